#!/usr/bin/env bash
# Start a frozen dpgui on a real X server (Xvfb, Qt's xcb platform plugin) on a system that
# lacks the libraries the plugin needs beyond a bare X client -- libxcb-cursor0,
# libxcb-icccm4, libxcb-keysyms1: it must start from the copies bundled in the build.
#
#   packaging/linux/test_xcb_bundle.sh dist/dpgui [CONFIG.toml]
#
# The system's copies are hidden, without uninstalling anything, inside a private mount
# namespace (unshare -m, root only): /dev/null is bind-mounted over each, so the dynamic
# loader cannot use them. Then dpgui renders its main window with CONFIG loaded to a PNG
# (--screenshot), and the PNG must not be blank. Needs Xvfb, unshare and root; exits 0 on
# success, 1 on failure, 77 when it cannot run here (not root, no Xvfb).
set -euo pipefail
exe="$(readlink -f "$1")"
config="${2:-}"
[ "$(id -u)" = 0 ] || { echo "test_xcb_bundle.sh: needs root (mount namespace); skipped"; exit 77; }
command -v Xvfb >/dev/null || { echo "test_xcb_bundle.sh: Xvfb missing (apt-get install xvfb); skipped"; exit 77; }
command -v unshare >/dev/null || { echo "test_xcb_bundle.sh: unshare missing; skipped"; exit 77; }

tmp="$(mktemp -d)"
xpid=
cleanup() { [ -n "$xpid" ] && kill "$xpid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

exec 3<> "$tmp/displayfd"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp > "$tmp/xvfb.log" 2>&1 &
xpid=$!
for _ in $(seq 100); do
    display="$(head -n1 "$tmp/displayfd" 2>/dev/null || true)"
    [ -n "$display" ] && break
    sleep 0.1
done
[ -n "${display:-}" ] || { cat "$tmp/xvfb.log"; echo "test_xcb_bundle.sh: Xvfb did not start"; exit 1; }

hidden=()
for so in libxcb-cursor.so.0 libxcb-icccm.so.4 libxcb-keysyms.so.1; do
    while read -r path; do
        [ -n "$path" ] && hidden+=("$(readlink -f "$path")")
    done < <(ldconfig -p | awk -v s="$so" '$1 == s { print $NF }')
done
echo "hiding the system's copies: ${hidden[*]:-(none installed)}"

rc=0
HIDDEN="${hidden[*]:-}" unshare -m bash -c '
    set -e
    for f in $HIDDEN; do mount --bind /dev/null "$f"; done
    cd "$0"
    env -i PATH=/usr/bin:/bin HOME="$0" DISPLAY=":$1" QT_QPA_PLATFORM=xcb LC_ALL=C.UTF-8 \
        "$2" --screenshot "$0/shot.png" ${3:+"$3"}
' "$tmp" "$display" "$exe" "$config" > "$tmp/run.log" 2>&1 || rc=$?
cat "$tmp/run.log"
[ "$rc" = 0 ] || { echo "test_xcb_bundle.sh: FAILED: dpgui exited $rc on Xvfb without the system's xcb libraries"; exit 1; }
python3 - "$tmp/shot.png" <<'PY'
import sys
from PIL import Image
img = Image.open(sys.argv[1]).convert("L")
lo, hi = img.getextrema()
colours = len(img.getcolors(1 << 16) or [])
print(f"screenshot {img.size[0]}x{img.size[1]}, grey levels {lo}-{hi}, {colours} distinct")
sys.exit(0 if hi - lo > 40 and colours > 8 else 1)
PY
echo "test_xcb_bundle.sh: OK: $exe started on Xvfb (xcb) from its bundled libraries"
