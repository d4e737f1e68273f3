#!/usr/bin/env bash
# Build the standalone Linux executable with PyInstaller, then test the artifact the way a
# user without Python or dpgui installed would run it: from an empty temp dir, with a clean
# environment (env -i), no display and no GPU.
#
#   packaging/build.sh              one folder dist/dpgui-dir/ and, made from it, the single
#                                   file dist/dpgui (unpacks once per version into the user's
#                                   cache, then starts as fast as the folder)
#   packaging/build.sh --onedir     the one folder only (dist/dpgui-dir/dpgui)
#   packaging/build.sh --deb        also dist/dpgui_<version>_<arch>.deb (installs to /usr/lib/dpgui,
#                                   /usr/bin/dpgui, desktop entry and icons; apt install ./FILE.deb)
#   packaging/build.sh --test-only  skip the build, test the existing artifacts
#   packaging/build.sh --package    also write dist/dpgui-<version>-linux-<arch>.tar.gz
#                                   (binary + .desktop + icons + install.sh)
#
# PYTHON selects the interpreter (default python3); it needs the runtime dependencies and
# PyInstaller (python3 -m pip install ".[build]"). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
PYTHON="${PYTHON:-python3}"

onedir=0 build=1 package=0 deb=0
for arg in "$@"; do
    case "$arg" in
        --onedir) onedir=1 ;;
        --deb) deb=1 ;;
        --test-only) build=0 ;;
        --package) package=1 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

version="$(sed -n 's/^__version__ *= *["'\'']\([^"'\'']*\)["'\''].*/\1/p' dpgui_qt/__init__.py)"
[ -n "$version" ] || { echo "build.sh: no __version__ in dpgui_qt/__init__.py" >&2; exit 1; }
folder="$ROOT/dist/dpgui-dir"
if [ "$onedir" = 1 ]; then artifact="$folder/dpgui"; else artifact="$ROOT/dist/dpgui"; fi

step() { printf '\n== %s\n' "$*"; }
fail() { echo "build.sh: FAILED: $*" >&2; exit 1; }

# The Qt xcb platform plugin dlopens/links these; a minimal Linux lacks them. PyInstaller
# bundles them only when the build machine has them, so check before building.
XCB_SONAMES="libxcb-cursor.so.0 libxcb-icccm.so.4 libxcb-keysyms.so.1"
XCB_PACKAGES="libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"

if [ "$build" = 1 ]; then
    "$PYTHON" -m PyInstaller --version >/dev/null 2>&1 \
        || fail "PyInstaller is missing: $PYTHON -m pip install pyinstaller  (or .[build])"
    known="$(ldconfig -p 2>/dev/null || true)"  # (not piped into grep -q: pipefail + SIGPIPE)
    for so in $XCB_SONAMES; do
        grep -qF "$so" <<< "$known" \
            || fail "$so is not installed on this build machine, so the build could not bundle it: apt-get install $XCB_PACKAGES"
    done
    "$PYTHON" packaging/make_icons.py --check || "$PYTHON" packaging/make_icons.py
    step "PyInstaller $("$PYTHON" -m PyInstaller --version): dpgui $version, one folder"
    start=$(date +%s)
    "$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
        --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" \
        packaging/dpgui.spec -- --onedir
    echo "build time: $(( $(date +%s) - start )) s"
    if [ "$onedir" = 0 ]; then
        step "single file from the one folder"
        "$PYTHON" packaging/make_selfextract.py "$folder" "$ROOT/dist/dpgui"
    fi
fi
[ -x "$artifact" ] || fail "$artifact was not built"
size_mb=$(du -sm "$folder" | cut -f1)
echo "one folder: $folder (${size_mb} MiB)"
if [ "$onedir" = 0 ]; then
    size=$(stat -c %s "$artifact")
    echo "single file: $artifact ($(( size / 1000000 )) MB, $(( size / 1048576 )) MiB)"
fi

step "bundled xcb libraries"
for so in $XCB_SONAMES; do
    [ -e "$folder/_internal/$so" ] || fail "$so is not in the bundle (install $XCB_PACKAGES on the build machine and rebuild)"
done
echo "bundled: $XCB_SONAMES"

# A template written by the source tree (the frozen binary bundles the same schemas).
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
PYTHONPATH="$ROOT" "$PYTHON" - "$tmp/flux-lora.toml" <<'PY'
import sys
from dpgui_qt.core.config.schema import default_registry
from dpgui_qt.core.config.templates import build_template
open(sys.argv[1], "w", encoding="utf-8").write(build_template(default_registry(), "flux", "lora"))
PY

# Clean environment: no PYTHONPATH, no virtualenv, no DISPLAY, an empty HOME (so the single
# file unpacks into $tmp/.cache), run from a folder that holds nothing of the project.
run_clean() { (cd "$tmp" && env -i PATH=/usr/bin:/bin HOME="$tmp" "$@"); }

test_artifact() {  # EXE LABEL
    local exe="$1" label="$2"
    step "$label: --self-test"
    run_clean "$exe" --self-test || fail "$label --self-test"

    step "$label: --version"
    got="$(run_clean "$exe" --version)" || fail "$label --version exited non-zero"
    echo "$got"
    [ "$got" = "dpgui $version" ] || fail "$label --version printed '$got', expected 'dpgui $version'"

    step "$label: validate a bundled template"
    rc=0
    run_clean "$exe" validate flux-lora.toml || rc=$?
    [ "$rc" = 0 ] || fail "$label validate flux-lora.toml exited $rc (0 = no errors expected)"
    bad_rc=0
    printf '[model]\ntype = "no-such-model"\n' > "$tmp/bad.toml"
    run_clean "$exe" validate bad.toml >/dev/null || bad_rc=$?
    [ "$bad_rc" = 1 ] || fail "$label validate bad.toml exited $bad_rc, expected 1 (errors found)"
    echo "validate: template OK (exit 0), broken config rejected (exit 1)"
}

test_artifact "$folder/dpgui" "one folder"
if [ "$onedir" = 0 ]; then
    test_artifact "$artifact" "single file"
    [ -n "$(ls -A "$tmp/.cache/dpgui" 2>/dev/null)" ] || fail "the single file left no unpacked copy in $tmp/.cache/dpgui"
    echo "single file unpacked once into: $(ls "$tmp/.cache/dpgui")"
fi

if [ "$deb" = 1 ]; then
    step "deb"
    "$PYTHON" packaging/linux/make_deb.py "$folder" "$ROOT/dist" --version "$version"
fi

if [ "$package" = 1 ]; then
    step "package"
    arch="$(uname -m)"
    name="dpgui-$version-linux-$arch"
    stage="$tmp/$name"
    mkdir -p "$stage"
    if [ "$onedir" = 1 ]; then cp -a "$ROOT/dist/dpgui-dir/." "$stage/"; else cp "$artifact" "$stage/dpgui"; fi
    cp packaging/linux/dpgui.desktop packaging/linux/install.sh "$stage/"
    cp -r packaging/linux/icons "$stage/icons"
    [ "$onedir" = 1 ] && name="$name-dir"
    tar -C "$tmp" -czf "$ROOT/dist/$name.tar.gz" "$(basename "$stage")"
    echo "wrote dist/$name.tar.gz"
fi
step "OK: $artifact"
