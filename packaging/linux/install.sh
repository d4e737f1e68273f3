#!/usr/bin/env bash
# Install a built dpgui for the current user (or system-wide with PREFIX=/usr/local, as root):
#   packaging/linux/install.sh [path/to/dpgui]      (default: dist/dpgui next to this checkout,
#                                                    or ./dpgui next to this script in a release tarball)
# Puts the binary in $PREFIX/bin, the .desktop file in $PREFIX/share/applications and
# the icons in $PREFIX/share/icons/hicolor. Uninstall: delete those files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="${PREFIX:-$HOME/.local}"
bin="${1:-}"
if [ -z "$bin" ]; then
    for c in "$here/dpgui" "$here/../../dist/dpgui"; do
        [ -x "$c" ] && bin="$c" && break
    done
fi
[ -n "$bin" ] && [ -x "$bin" ] || { echo "install.sh: no dpgui binary found; pass its path" >&2; exit 2; }
if [ -d "$(dirname "$bin")/_internal" ]; then  # one-folder build: keep the folder together
    rm -rf "$prefix/lib/dpgui"
    mkdir -p "$prefix/lib/dpgui" "$prefix/bin"
    cp -a "$(dirname "$bin")/dpgui" "$(dirname "$bin")/_internal" "$prefix/lib/dpgui/"
    ln -sf "$prefix/lib/dpgui/dpgui" "$prefix/bin/dpgui"
else
    install -Dm755 "$bin" "$prefix/bin/dpgui"
fi
install -Dm644 "$here/dpgui.desktop" "$prefix/share/applications/dpgui.desktop"
(cd "$here/icons" && find hicolor -type f) | while read -r icon; do
    install -Dm644 "$here/icons/$icon" "$prefix/share/icons/$icon"
done
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$prefix/share/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$prefix/share/icons/hicolor" || true
echo "installed dpgui to $prefix/bin/dpgui (make sure $prefix/bin is on PATH)"
