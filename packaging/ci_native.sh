#!/usr/bin/env bash
# CI for the installed forms (issue #17), run by .ci/run after the test suite:
#   1. build the one folder, the single file and the .deb (packaging/build.sh --deb, which
#      also self-tests the folder and the single file from an empty folder, env -i);
#   2. install the .deb with apt, run `dpgui --self-test` from the installed command, remove
#      the package again and check that none of its files is left;
#   3. start the single file on a real X server (Xvfb, xcb) with the system's copies of the
#      xcb libraries hidden: the bundle must be enough (.ci/display_smoke.py --exe ...).
# Exits non-zero on any failure. Needs root and apt-get (the CI machine is Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
step() { printf '\n== ci_native: %s\n' "$*"; }
fail() { echo "ci_native: FAILED: $*" >&2; exit 1; }

step "build prerequisites"
python3 -m PyInstaller --version >/dev/null 2>&1 || python3 -m pip install -q "pyinstaller>=6.10"
need=()
known="$(ldconfig -p 2>/dev/null || true)"
for pair in libxcb-cursor.so.0:libxcb-cursor0 libxcb-icccm.so.4:libxcb-icccm4 libxcb-keysyms.so.1:libxcb-keysyms1; do
    grep -qF "${pair%%:*}" <<< "$known" || need+=("${pair##*:}")
done
command -v dpkg-deb >/dev/null || need+=(dpkg)
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

step "build (one folder, single file, .deb)"
packaging/build.sh --deb
deb="$(ls -t dist/dpgui_*.deb | head -n1)"
echo "sizes: single file $(stat -c %s dist/dpgui) bytes, .deb $(stat -c %s "$deb") bytes, one folder $(du -sb dist/dpgui-dir | cut -f1) bytes"

step "install $deb"
apt-get install -y -qq "./$deb" >/dev/null || fail "apt-get install ./$deb"
dpkg -L dpgui > "$ROOT/dist/dpgui-deb-files.txt"
echo "installed $(wc -l < "$ROOT/dist/dpgui-deb-files.txt") paths; the package's own:"
grep -vE '^/usr/lib/dpgui/_internal/' "$ROOT/dist/dpgui-deb-files.txt" | grep -E '/dpgui|dpgui\.' | sed 's/^/  /'
[ -L /usr/bin/dpgui ] || fail "/usr/bin/dpgui is not installed"
home="$(mktemp -d)"
(cd "$home" && env -i PATH=/usr/bin:/bin HOME="$home" /usr/bin/dpgui --self-test) \
    || fail "the installed dpgui --self-test"
(cd "$home" && env -i PATH=/usr/bin:/bin HOME="$home" /usr/bin/dpgui --version)
rm -rf "$home"

step "remove the package"
apt-get purge -y -qq dpgui >/dev/null || fail "apt-get purge dpgui"
left=()
while read -r path; do
    # folders other packages share (/usr/share/icons/hicolor/48x48/apps, ...) stay
    [ -d "$path" ] && [ ! -L "$path" ] && [ "${path#/usr/lib/dpgui}" = "$path" ] \
        && [ "${path#/usr/share/doc/dpgui}" = "$path" ] && continue
    if [ -e "$path" ] || [ -L "$path" ]; then left+=("$path"); fi
done < "$ROOT/dist/dpgui-deb-files.txt"
[ "${#left[@]}" = 0 ] || fail "removing the package left ${#left[@]} path(s): ${left[*]:0:10}"
echo "removed: none of its $(wc -l < "$ROOT/dist/dpgui-deb-files.txt") paths is left"

step "the single file on Xvfb without the system's xcb libraries"
python3 .ci/display_smoke.py --exe "$ROOT/dist/dpgui" --hide-system-xcb \
    --out "${DPGUI_CI_ARTIFACTS:-${TMPDIR:-/tmp}}/dpgui-single-file-xvfb.png"
step "OK"
