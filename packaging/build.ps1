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
pwsh -File packaging/build.ps1 -OneDir -Installer
                                           # also the per-user installer (Inno Setup, iscc on PATH
                                           # or in its default folder):
                                           # dist\dpgui-<version>-windows-x64-setup.exe

$env:PYTHON selects the interpreter (default: python); it needs the runtime dependencies and
PyInstaller (python -m pip install ".[build]"). Exits non-zero on any failure.
#>
param(
    [switch]$OneDir,
    [switch]$TestOnly,
    [switch]$Package,
    [switch]$Installer
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
if ($Installer -and -not $OneDir) { Fail '-Installer packs the one-folder build: add -OneDir' }
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
from dpgui_qt.core.config.schema import default_registry
from dpgui_qt.core.config.templates import build_template
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
    if ($Installer) {
        Step 'installer (Inno Setup)'
        $iscc = (Get-Command iscc -ErrorAction SilentlyContinue).Source
        if (-not $iscc) {
            $iscc = @("${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe", "$env:ProgramFiles\Inno Setup 6\ISCC.exe") |
                Where-Object { Test-Path $_ } | Select-Object -First 1
        }
        if (-not $iscc) { Fail 'Inno Setup 6 is missing (choco install innosetup, or https://jrsoftware.org)' }
        & $iscc /Q "/DAppVersion=$Version" "/DSourceDir=$(Join-Path $Root 'dist/dpgui-dir')" `
            "/DOutputDir=$(Join-Path $Root 'dist')" (Join-Path $Root 'packaging/windows/dpgui.iss')
        if ($LASTEXITCODE -ne 0) { Fail "iscc exited $LASTEXITCODE" }
        $setup = Join-Path $Root "dist/dpgui-$Version-windows-x64-setup.exe"
        if (-not (Test-Path $setup)) { Fail "$setup was not written" }
        # install silently for this user into a temp folder, self-test the installed copy,
        # uninstall, and check nothing is left behind
        $dest = Join-Path $Tmp 'installed'
        $p = Start-Process $setup -ArgumentList '/VERYSILENT', '/SUPPRESSMSGBOXES', '/NORESTART', '/CURRENTUSER', "/DIR=$dest" -Wait -PassThru
        if ($p.ExitCode -ne 0) { Fail "the installer exited $($p.ExitCode)" }
        $Artifact = Join-Path $dest 'dpgui.exe'
        $r = Invoke-Clean @('--self-test')
        if ($r.Code -ne 0) { Fail "installed dpgui.exe --self-test exited $($r.Code)" }
        $p = Start-Process (Join-Path $dest 'unins000.exe') -ArgumentList '/VERYSILENT', '/SUPPRESSMSGBOXES', '/NORESTART' -Wait -PassThru
        if ($p.ExitCode -ne 0) { Fail "the uninstaller exited $($p.ExitCode)" }
        Start-Sleep -Seconds 2  # the uninstaller removes itself from a helper process
        $left = @(Get-ChildItem $dest -Recurse -Force -ErrorAction SilentlyContinue)
        if ($left.Count -gt 0) { Fail "uninstall left $($left.Count) file(s) in $dest" }
        Write-Host "wrote $setup; installed, self-tested and uninstalled cleanly"
    }
} finally {
    Remove-Item -Recurse -Force $Tmp -ErrorAction SilentlyContinue
}
Step "OK: $Artifact"
exit 0
