#!/usr/bin/env bash
# Build the standalone Linux executable with PyInstaller, then test the artifact the way a
# user without Python or dpgui installed would run it: from an empty temp dir, with a clean
# environment (env -i), no display and no GPU.
#
#   packaging/build.sh              single file:  dist/dpgui
#   packaging/build.sh --onedir     one folder:   dist/dpgui-dir/dpgui (starts faster)
#   packaging/build.sh --test-only  skip the build, test the existing artifact
#   packaging/build.sh --package    also write dist/dpgui-<version>-linux-<arch>.tar.gz
#                                   (binary + .desktop + icons + install.sh)
#
# PYTHON selects the interpreter (default python3); it needs the runtime dependencies and
# PyInstaller (python3 -m pip install ".[build]"). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
PYTHON="${PYTHON:-python3}"

onedir=0 build=1 package=0
for arg in "$@"; do
    case "$arg" in
        --onedir) onedir=1 ;;
        --test-only) build=0 ;;
        --package) package=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

version="$(sed -n 's/^__version__ *= *["'\'']\([^"'\'']*\)["'\''].*/\1/p' dpgui_qt/__init__.py)"
[ -n "$version" ] || { echo "build.sh: no __version__ in dpgui_qt/__init__.py" >&2; exit 1; }
if [ "$onedir" = 1 ]; then artifact="$ROOT/dist/dpgui-dir/dpgui"; else artifact="$ROOT/dist/dpgui"; fi

step() { printf '\n== %s\n' "$*"; }
fail() { echo "build.sh: FAILED: $*" >&2; exit 1; }

if [ "$build" = 1 ]; then
    "$PYTHON" -m PyInstaller --version >/dev/null 2>&1 \
        || fail "PyInstaller is missing: $PYTHON -m pip install pyinstaller  (or .[build])"
    "$PYTHON" packaging/make_icons.py --check || "$PYTHON" packaging/make_icons.py
    step "PyInstaller $("$PYTHON" -m PyInstaller --version): dpgui $version, $([ "$onedir" = 1 ] && echo one-folder || echo single-file)"
    spec_args=()
    [ "$onedir" = 1 ] && spec_args=(-- --onedir)
    start=$(date +%s)
    "$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
        --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" \
        packaging/dpgui.spec "${spec_args[@]}"
    echo "build time: $(( $(date +%s) - start )) s"
fi
[ -x "$artifact" ] || fail "$artifact was not built"
if [ "$onedir" = 1 ]; then
    size_mb=$(du -sm "$ROOT/dist/dpgui-dir" | cut -f1)
    echo "artifact: $artifact (folder: ${size_mb} MiB)"
else
    size=$(stat -c %s "$artifact")
    echo "artifact: $artifact ($(( size / 1000000 )) MB, $(( size / 1048576 )) MiB)"
fi

# A template written by the source tree (the frozen binary bundles the same schemas).
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
PYTHONPATH="$ROOT" "$PYTHON" - "$tmp/flux-lora.toml" <<'PY'
import sys
from dpgui_qt.core.schema import default_registry
from dpgui_qt.gui.templates import build_template
open(sys.argv[1], "w", encoding="utf-8").write(build_template(default_registry(), "flux", "lora"))
PY

# Clean environment: no PYTHONPATH, no virtualenv, no DISPLAY, an empty HOME, run from
# a folder that holds nothing of the project.
run_clean() { (cd "$tmp" && env -i PATH=/usr/bin:/bin HOME="$tmp" "$artifact" "$@"); }

step "--self-test"
run_clean --self-test || fail "--self-test"

step "--version"
got="$(run_clean --version)" || fail "--version exited non-zero"
echo "$got"
[ "$got" = "dpgui $version" ] || fail "--version printed '$got', expected 'dpgui $version'"

step "validate a bundled template"
rc=0
run_clean validate flux-lora.toml || rc=$?
[ "$rc" = 0 ] || fail "validate flux-lora.toml exited $rc (0 = no errors expected)"
bad_rc=0
printf '[model]\ntype = "no-such-model"\n' > "$tmp/bad.toml"
run_clean validate bad.toml >/dev/null || bad_rc=$?
[ "$bad_rc" = 1 ] || fail "validate bad.toml exited $bad_rc, expected 1 (errors found)"
echo "validate: template OK (exit 0), broken config rejected (exit 1)"

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
