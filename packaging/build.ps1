<#
.SYNOPSIS
Build the standalone Windows executable with PyInstaller, then test the artifact the way a
user without Python or dpgui installed would run it: from an empty temp folder, with a
minimal environment (no PYTHONPATH, no virtualenv, PATH = Windows only) and no GPU.

.EXAMPLE
pwsh -File packaging/build.ps1             # single file:  dist\dpgui.exe
pwsh -File packaging/build.ps1 -OneDir     # one folder:   dist\dpgui-dir\dpgui.exe (starts faster)
pwsh -File packaging/build.ps1 -TestOnly   # skip the build, test the existing artifact
pwsh -File packaging/build.ps1 -Package    # also write dist\dpgui-<version>-windows-x64[-dir].zip

$env:PYTHON selects the interpreter (default: python); it needs the runtime dependencies and
PyInstaller (python -m pip install ".[build]"). Exits non-zero on any failure.
#>
param(
    [switch]$OneDir,
    [switch]$TestOnly,
    [switch]$Package
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$Root = (Resolve-Path (Join-Path $PSScriptRoot '..')).Path
Set-Location $Root
$Python = if ($env:PYTHON) { $env:PYTHON } else { 'python' }

function Fail([string]$msg) {
    Write-Host "build.ps1: FAILED: $msg" -ForegroundColor Red
    exit 1
}
function Step([string]$msg) { Write-Host "`n== $msg" }

$init = Get-Content (Join-Path $Root 'dpgui_qt/__init__.py') -Raw
if ($init -notmatch '(?m)^__version__\s*=\s*["'']([^"'']+)["'']') { Fail 'no __version__ in dpgui_qt/__init__.py' }
$Version = $Matches[1]
$Artifact = if ($OneDir) { Join-Path $Root 'dist/dpgui-dir/dpgui.exe' } else { Join-Path $Root 'dist/dpgui.exe' }

if (-not $TestOnly) {
    & $Python -m PyInstaller --version *> $null
    if ($LASTEXITCODE -ne 0) { Fail "PyInstaller is missing: $Python -m pip install pyinstaller  (or .[build])" }
    & $Python packaging/make_icons.py --check
    if ($LASTEXITCODE -ne 0) {
        & $Python packaging/make_icons.py
        if ($LASTEXITCODE -ne 0) { Fail 'make_icons.py' }
    }
    Step "PyInstaller: dpgui $Version, $(if ($OneDir) { 'one-folder' } else { 'single-file' })"
    $specArgs = @()
    if ($OneDir) { $specArgs = @('--', '--onedir') }
    $watch = [Diagnostics.Stopwatch]::StartNew()
    & $Python -m PyInstaller --noconfirm --log-level WARN --distpath (Join-Path $Root 'dist') `
        --workpath (Join-Path $Root 'build/pyinstaller') packaging/dpgui.spec @specArgs
    if ($LASTEXITCODE -ne 0) { Fail "PyInstaller exited $LASTEXITCODE" }
    Write-Host ("build time: {0:N0} s" -f $watch.Elapsed.TotalSeconds)
}
if (-not (Test-Path $Artifact)) { Fail "$Artifact was not built" }
if ($OneDir) {
    $bytes = (Get-ChildItem (Split-Path $Artifact) -Recurse -File | Measure-Object Length -Sum).Sum
    Write-Host ("artifact: $Artifact (folder: {0:N1} MiB)" -f ($bytes / 1MB))
} else {
    Write-Host ("artifact: $Artifact ({0:N1} MiB)" -f ((Get-Item $Artifact).Length / 1MB))
}

# A template written by the source tree (the frozen binary bundles the same schemas).
$Tmp = Join-Path ([IO.Path]::GetTempPath()) ("dpgui-build-" + [Guid]::NewGuid().ToString('N'))
New-Item -ItemType Directory $Tmp | Out-Null
try {
    $env:PYTHONPATH = $Root
    & $Python -c @"
import sys
from dpgui_qt.core.schema import default_registry
from dpgui_qt.gui.templates import build_template
open(sys.argv[1], 'w', encoding='utf-8').write(build_template(default_registry(), 'flux', 'lora'))
"@ (Join-Path $Tmp 'flux-lora.toml')
    if ($LASTEXITCODE -ne 0) { Fail 'could not write the template' }
    Remove-Item Env:PYTHONPATH
    Set-Content -Path (Join-Path $Tmp 'bad.toml') -Value "[model]`ntype = 'no-such-model'" -Encoding utf8

    # Run the artifact from the empty folder with a minimal environment (the equivalent
    # of env -i): only what Windows itself needs, PATH without Python, a fresh profile.
    function Invoke-Clean([string[]]$ArgList) {
        $psi = [Diagnostics.ProcessStartInfo]::new($Artifact)
        foreach ($a in $ArgList) { $psi.ArgumentList.Add($a) }
        $psi.WorkingDirectory = $Tmp
        $psi.UseShellExecute = $false
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $psi.Environment.Clear()
        $sys = $env:SystemRoot
        $vars = @{
            SystemRoot = $sys; windir = $sys; SystemDrive = $env:SystemDrive
            PATH = "$sys\System32;$sys"; PATHEXT = '.COM;.EXE;.BAT;.CMD'
            TEMP = $Tmp; TMP = $Tmp; USERPROFILE = $Tmp
            APPDATA = (Join-Path $Tmp 'AppData\Roaming'); LOCALAPPDATA = (Join-Path $Tmp 'AppData\Local')
            COMPUTERNAME = $env:COMPUTERNAME; NUMBER_OF_PROCESSORS = $env:NUMBER_OF_PROCESSORS
        }
        foreach ($k in $vars.Keys) { if ($vars[$k]) { $psi.Environment[$k] = $vars[$k] } }
        $p = [Diagnostics.Process]::Start($psi)
        $errTask = $p.StandardError.ReadToEndAsync()
        $out = $p.StandardOutput.ReadToEnd()
        if (-not $p.WaitForExit(300000)) { $p.Kill(); Fail "$($ArgList -join ' ') timed out" }
        $p.WaitForExit()
        $err = $errTask.Result
        if ($out) { Write-Host $out.TrimEnd() }
        if ($err) { Write-Host $err.TrimEnd() }
        return [pscustomobject]@{ Code = $p.ExitCode; Out = $out.Trim() }
    }

    Step '--self-test'
    $r = Invoke-Clean @('--self-test')
    if ($r.Code -ne 0) { Fail "--self-test exited $($r.Code)" }

    Step '--version'
    $r = Invoke-Clean @('--version')
    if ($r.Code -ne 0) { Fail "--version exited $($r.Code)" }
    if ($r.Out -ne "dpgui $Version") { Fail "--version printed '$($r.Out)', expected 'dpgui $Version'" }

    Step 'validate a bundled template'
    $r = Invoke-Clean @('validate', 'flux-lora.toml')
    if ($r.Code -ne 0) { Fail "validate flux-lora.toml exited $($r.Code) (0 = no errors expected)" }
    $r = Invoke-Clean @('validate', 'bad.toml')
    if ($r.Code -ne 1) { Fail "validate bad.toml exited $($r.Code), expected 1 (errors found)" }
    Write-Host 'validate: template OK (exit 0), broken config rejected (exit 1)'

    if ($Package) {
        Step 'package'
        $name = "dpgui-$Version-windows-x64" + $(if ($OneDir) { '-dir' } else { '' })
        $zip = Join-Path $Root "dist/$name.zip"
        if (Test-Path $zip) { Remove-Item $zip }
        $src = if ($OneDir) { Join-Path $Root 'dist/dpgui-dir/*' } else { $Artifact }
        Compress-Archive -Path $src -DestinationPath $zip
        Write-Host "wrote dist/$name.zip"
    }
} finally {
    Remove-Item -Recurse -Force $Tmp -ErrorAction SilentlyContinue
}
Step "OK: $Artifact"
exit 0
