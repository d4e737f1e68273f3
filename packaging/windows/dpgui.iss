; Inno Setup script: a per-user Windows installer for dpgui over the one-folder build.
;
;   iscc /DAppVersion=X.Y.Z /DSourceDir=..\..\dist\dpgui-dir /DOutputDir=..\..\dist packaging\windows\dpgui.iss
;
; (packaging/build.ps1 -Installer runs this after building the one folder.)
; Why Inno Setup rather than WiX: one readable script; a per-user install without admin
; rights is a single directive (PrivilegesRequired=lowest), where an MSI needs per-user
; component GUIDs and ALLUSERS/MSIINSTALLPERUSER juggling; it writes its own uninstaller and
; Start-menu entries; and GitHub's Windows runners carry it (choco installs it otherwise).
; The dialog lets a user who has admin rights install for all users instead.

#ifndef AppVersion
  #error Pass /DAppVersion=X.Y.Z
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\dpgui-dir"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif

[Setup]
; a fixed AppId: upgrades replace the earlier version in place
AppId={{6D1B8C0E-3F0B-4C8F-9E7A-5A9D2C1B7E42}
AppName=dpgui
AppVersion={#AppVersion}
AppVerName=dpgui {#AppVersion}
AppPublisher=dpgui developers
AppComments=Desktop editor, validator and launcher for diffusion-pipe training configs
DefaultDirName={autopf}\dpgui
DefaultGroupName=dpgui
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
OutputDir={#OutputDir}
OutputBaseFilename=dpgui-{#AppVersion}-windows-x64-setup
SetupIconFile=dpgui.ico
UninstallDisplayIcon={app}\dpgui.exe
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
WizardStyle=modern
ChangesEnvironment=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add dpgui to PATH (for dpgui validate, dpgui launch ... in a terminal)"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\dpgui"; Filename: "{app}\dpgui.exe"; Comment: "Edit, validate and launch diffusion-pipe training configs"
Name: "{autodesktop}\dpgui"; Filename: "{app}\dpgui.exe"; Tasks: desktopicon

[Registry]
; per-user PATH entry (HKCU), removed again by the uninstaller
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NotOnPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\dpgui.exe"; Description: "{cm:LaunchProgram,dpgui}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; what dpgui.exe may write beside itself at run time (nothing today; PyInstaller writes no .pyc)
Type: filesandordirs; Name: "{app}\__pycache__"

[Code]
function NotOnPath(Dir: string): Boolean;
var
  Current: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Current) then
    Current := '';
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Current) + ';') = 0;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  Current, Dir: string;
  P: Integer;
begin
  if CurUninstallStep <> usPostUninstall then
    exit;
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Current) then
    exit;
  Dir := ExpandConstant('{app}');
  P := Pos(';' + Uppercase(Dir), Uppercase(Current));
  if P > 0 then
  begin
    Delete(Current, P, Length(Dir) + 1);
    RegWriteExpandStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Current);
  end;
end;
