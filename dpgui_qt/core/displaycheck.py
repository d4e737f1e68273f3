"""Can Qt open a window here?  Checked before Qt tries, so a missing library is named.

On Linux, Qt loads a platform plugin (``libqxcb.so`` for X11, ``libqwayland.so`` for
Wayland) when the application object is created. When a shared library that plugin
links against is missing, Qt prints a generic message (at best naming one of the
libraries) and aborts the process. This module answers the same question first, without
starting a process: it reads the plugin's ELF dynamic section (``DT_NEEDED``,
``DT_RUNPATH``/``DT_RPATH``) and resolves every library the way the dynamic loader does
(``LD_LIBRARY_PATH``, the run path with ``$ORIGIN``, ``/etc/ld.so.cache``, the default
directories), recursively. What is missing is mapped to the package that provides it on
Debian/Ubuntu (apt), Fedora/RHEL (dnf) and Arch (pacman).

:func:`plan` decides the platform (honouring ``-platform`` and ``QT_QPA_PLATFORM``,
preferring Wayland where a Wayland session is present, falling back to it where the X11
plugin cannot load) and returns what to set or what to tell the user. No Qt import here.
"""
from __future__ import annotations

import os
import struct
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# soname -> (Debian/Ubuntu, Fedora/RHEL, Arch) package
PACKAGES: dict[str, tuple[str, str, str]] = {
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil",
                                "xcb-util-renderutil"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb", "libxcb"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11"),
    "libXau.so.6": ("libxau6", "libXau", "libxau"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp", "libxdmcp"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl", "libglvnd"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx", "libglvnd"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd", "libglvnd"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client", "wayland"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor", "wayland"),
    "libwayland-egl.so.1": ("libwayland-egl1", "libwayland-egl", "wayland"),
    "libffi.so.8": ("libffi8", "libffi", "libffi"),
}

MANAGERS = (  # (label, os-release ids, command prefix)
    ("Debian/Ubuntu", ("debian", "ubuntu"), "sudo apt-get install -y"),
    ("Fedora/RHEL", ("fedora", "rhel", "centos"), "sudo dnf install -y"),
    ("Arch", ("arch",), "sudo pacman -S --needed"),
)

# The platforms that need a display server (and so system libraries); the others
# (offscreen, minimal, vnc, ...) need nothing this module checks.
DISPLAY_PLATFORMS = ("xcb", "wayland")

_DT_NEEDED, _DT_STRTAB, _DT_RPATH, _DT_RUNPATH = 1, 5, 15, 29
_SHT_DYNAMIC = 6


@dataclass
class ElfDeps:
    machine: tuple[int, int]  # (ELF class, e_machine): a library must match its loader
    needed: list[str] = field(default_factory=list)
    rpath: list[str] = field(default_factory=list)
    runpath: list[str] = field(default_factory=list)


def _elf_ident(head: bytes) -> tuple[str, int, int] | None:
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[4] not in (1, 2) or head[5] not in (1, 2):
        return None
    endian = "<" if head[5] == 1 else ">"
    (machine,) = struct.unpack_from(endian + "H", head, 18)
    return endian, head[4], machine


def elf_machine(path: str) -> tuple[int, int] | None:
    """(class, machine) of an ELF file, or None when it is not one (or unreadable)."""
    try:
        with open(path, "rb") as f:
            ident = _elf_ident(f.read(20))
    except OSError:
        return None
    return None if ident is None else (ident[1], ident[2])


def read_elf(path: str) -> ElfDeps | None:
    """The dynamic dependencies of an ELF shared object, from its section headers."""
    try:
        with open(path, "rb") as f:
            data = f.read(64)
            ident = _elf_ident(data)
            if ident is None:
                return None
            e, cls, machine = ident
            if cls == 2:
                shoff, = struct.unpack_from(e + "Q", data, 0x28)
                shentsize, shnum = struct.unpack_from(e + "HH", data, 0x3A)
                shfmt, dynfmt = e + "IIQQQQIIQQ", e + "qQ"
            else:
                shoff, = struct.unpack_from(e + "I", data, 0x20)
                shentsize, shnum = struct.unpack_from(e + "HH", data, 0x2E)
                shfmt, dynfmt = e + "IIIIIIIIII", e + "iI"
            if not shoff or not shnum:
                return ElfDeps((cls, machine))
            f.seek(shoff)
            table = f.read(shentsize * shnum)
            sections = [struct.unpack_from(shfmt, table, i * shentsize) for i in range(shnum)]
            deps = ElfDeps((cls, machine))
            for sec in sections:
                if sec[1] != _SHT_DYNAMIC:
                    continue
                off, size, link = sec[4], sec[5], sec[6]
                stroff, strsize = sections[link][4], sections[link][5]
                f.seek(off)
                dyn = f.read(size)
                f.seek(stroff)
                strtab = f.read(strsize)
                step = struct.calcsize(dynfmt)

                def string(at: int, strtab: bytes = strtab) -> str:
                    end = strtab.find(b"\0", at)
                    return strtab[at:end if end >= 0 else None].decode("utf-8", "replace")

                for i in range(0, len(dyn) - step + 1, step):
                    tag, val = struct.unpack_from(dynfmt, dyn, i)
                    if tag == 0:
                        break
                    if tag == _DT_NEEDED:
                        deps.needed.append(string(val))
                    elif tag == _DT_RPATH:
                        deps.rpath += [p for p in string(val).split(":") if p]
                    elif tag == _DT_RUNPATH:
                        deps.runpath += [p for p in string(val).split(":") if p]
                break
            return deps
    except (OSError, struct.error, IndexError):
        return None


def read_ld_cache(path: str = "/etc/ld.so.cache") -> dict[str, list[str]]:
    """soname -> paths listed in glibc's loader cache (new format, possibly behind the old)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return {}
    base = 0
    if data.startswith(b"ld.so-1.7.0"):
        (nold,) = struct.unpack_from("<I", data, 12)
        base = 16 + nold * 12
        base = (base + 7) & ~7  # the new header is 8-byte aligned behind the old table
    magic = b"glibc-ld.so.cache1.1"
    if data[base:base + len(magic)] != magic:
        return {}
    e = "<" if sys.byteorder == "little" else ">"
    (nlibs,) = struct.unpack_from(e + "I", data, base + 20)
    out: dict[str, list[str]] = {}

    def string(at: int) -> str:
        end = data.find(b"\0", at)
        return data[at:end].decode("utf-8", "replace")

    entries = base + 48
    for i in range(nlibs):
        _flags, key, value = struct.unpack_from(e + "iII", data, entries + i * 24)
        # string offsets count from the new header (the file's start when it stands alone)
        out.setdefault(string(base + key), []).append(string(base + value))
    return out


def default_dirs() -> list[str]:
    multi = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}.get(os.uname().machine)
    dirs = [f"/lib/{multi}", f"/usr/lib/{multi}"] if multi else []
    return dirs + ["/lib64", "/usr/lib64", "/lib", "/usr/lib"]


class Resolver:
    """Finds shared libraries as ld.so would; ``missing(path)`` walks the whole closure."""

    def __init__(self, ld_library_path: str | None = None,
                 cache: dict[str, list[str]] | None = None, dirs: list[str] | None = None,
                 stamp: Path | None = None):
        self.stamp = stamp  # remembers a plugin that loaded (see missing())
        if ld_library_path is None:
            ld_library_path = os.environ.get("LD_LIBRARY_PATH", "")
        self.ld_library_path = [p for p in ld_library_path.replace(";", ":").split(":") if p]
        self._cache = cache
        self.dirs = default_dirs() if dirs is None else dirs

    @property
    def cache(self) -> dict[str, list[str]]:
        if self._cache is None:
            self._cache = read_ld_cache()
        return self._cache

    def find(self, soname: str, loader: str, deps: ElfDeps) -> str | None:
        if "/" in soname:
            return soname if os.path.exists(soname) else None
        origin = os.path.dirname(os.path.realpath(loader))

        def expand(paths: list[str]) -> list[str]:
            return [p.replace("${ORIGIN}", origin).replace("$ORIGIN", origin) for p in paths]

        candidates: list[str] = []
        if not deps.runpath:
            candidates += [os.path.join(d, soname) for d in expand(deps.rpath)]
        candidates += [os.path.join(d, soname) for d in self.ld_library_path]
        candidates += [os.path.join(d, soname) for d in expand(deps.runpath)]
        candidates += self.cache.get(soname, [])
        candidates += [os.path.join(d, soname) for d in self.dirs]
        for c in candidates:
            if elf_machine(c) == deps.machine:
                return c
        return None

    def _key(self, path: str) -> str:
        parts = [path]
        for p in (path, "/etc/ld.so.cache"):
            try:
                st = os.stat(p)
                parts.append(f"{st.st_mtime_ns}:{st.st_size}")
            except OSError:
                parts.append("-")
        parts.append(":".join(self.ld_library_path))
        return "|".join(parts)

    def missing(self, path: str) -> dict[str, str]:
        """soname -> the library that needs it, for everything ``path`` cannot load.

        With a ``stamp`` file, a plugin found complete is remembered until it, the loader
        cache (rewritten whenever packages add or remove libraries) or LD_LIBRARY_PATH
        changes: a start then costs two stat() calls instead of the walk."""
        stamp = self.stamp
        key = self._key(path) if stamp is not None else None
        if stamp is not None and key is not None:
            try:
                if key in stamp.read_text(encoding="utf-8").splitlines():
                    return {}
            except (OSError, UnicodeError):
                pass
        found = self._walk(path)
        if stamp is not None and key is not None and not found:
            try:
                stamp.parent.mkdir(parents=True, exist_ok=True)
                lines = [ln for ln in self._stamp_lines() if not ln.startswith(path + "|")]
                tmp = stamp.with_name(stamp.name + f".{os.getpid()}.tmp")
                tmp.write_text("\n".join(lines[-20:] + [key]) + "\n", encoding="utf-8")
                os.replace(tmp, stamp)
            except OSError:
                pass  # a read-only home only costs the walk next time
        return found

    def _stamp_lines(self) -> list[str]:
        if self.stamp is None:
            return []
        try:
            return self.stamp.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeError):
            return []

    def _walk(self, path: str) -> dict[str, str]:
        missing: dict[str, str] = {}
        seen: set[str] = set()
        todo = [path]
        while todo:
            obj = todo.pop()
            deps = read_elf(obj)
            if deps is None:
                continue
            for so in deps.needed:
                if so in seen:
                    continue
                seen.add(so)
                found = self.find(so, obj, deps)
                if found is None:
                    missing.setdefault(so, os.path.basename(obj))
                else:
                    todo.append(found)
        return missing


def default_stamp() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "dpgui", "qt-platform-ok")


def plugin_dir() -> Path | None:
    """PySide6's platform plugin folder, found without importing PySide6."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    for loc in (spec.submodule_search_locations or []) if spec else []:
        d = Path(loc, "Qt", "plugins", "platforms")
        if d.is_dir():
            return d
    return None


def plugin_file(name: str, folder: Path) -> Path | None:
    """The plugin file for a platform name (``wayland-egl`` lives in ``libqwayland*.so``)."""
    for stem in (name, name.split("-")[0]):
        p = folder / f"libq{stem}.so"
        if p.exists():
            return p
    return None


def install_commands(sonames: Iterable[str], os_ids: list[str] | None = None) -> list[str]:
    """One install line per package manager (this system's first), e.g.
    ``Debian/Ubuntu: sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1``."""
    if os_ids is None:
        os_ids = os_release_ids()
    unknown = sorted(s for s in sonames if s not in PACKAGES)
    lines = []
    order = sorted(range(len(MANAGERS)),
                   key=lambda i: 0 if set(MANAGERS[i][1]) & set(os_ids) else 1)
    for i in order:
        label, _ids, cmd = MANAGERS[i]
        pkgs = sorted({PACKAGES[s][i] for s in sonames if s in PACKAGES})
        if pkgs:
            lines.append(f"{label + ':':15} {cmd} {' '.join(pkgs)}")
    if unknown:
        lines.append("Also needed (find the package that provides each): " + ", ".join(unknown))
    return lines


def os_release_ids(path: str = "/etc/os-release") -> list[str]:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return []
    ids: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            ids += value.strip().strip('"').split()
    return ids


@dataclass
class Plan:
    """What to do before creating the application object."""
    env: dict[str, str] = field(default_factory=dict)  # set before Qt starts (empty: Qt's choice)
    notes: list[str] = field(default_factory=list)  # printed, the start goes on
    error: str | None = None  # printed, the start stops (exit 2)


def _requested(argv: list[str], environ: Mapping[str, str]) -> str | None:
    for i, arg in enumerate(argv):
        a = arg[1:] if arg.startswith("--") else arg
        if a == "-platform" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("-platform="):
            return a.split("=", 1)[1]
    return environ.get("QT_QPA_PLATFORM") or None


def _wayland_socket(environ: Mapping[str, str]) -> str | None:
    """A Wayland display reachable even when WAYLAND_DISPLAY is not set in this shell."""
    name = environ.get("WAYLAND_DISPLAY")
    runtime = environ.get("XDG_RUNTIME_DIR")
    if name:
        return name
    if runtime and os.path.exists(os.path.join(runtime, "wayland-0")):
        return "wayland-0"
    return None


def plan(argv: list[str] | None = None, environ: Mapping[str, str] | None = None, *, folder: Path | None = None,
         resolver: Resolver | None = None, os_ids: list[str] | None = None) -> Plan:
    """Decide the platform plugin and check it can load (Linux only; elsewhere a no-op)."""
    environ = os.environ if environ is None else environ
    argv = list(sys.argv[1:] if argv is None else argv)
    if not sys.platform.startswith("linux"):
        return Plan()
    requested = _requested(argv, environ)
    if requested:
        names = [n.split(":")[0].strip() for n in requested.split(";") if n.strip()]
        if not any(n.startswith(DISPLAY_PLATFORMS) for n in names):
            return Plan()  # offscreen, minimal, vnc, eglfs ...: nothing to check
        explicit = True
    else:
        names = []
        wayland = bool(environ.get("WAYLAND_DISPLAY")) or environ.get("XDG_SESSION_TYPE") == "wayland"
        if wayland:
            names.append("wayland")  # Qt prefers Wayland in a Wayland session
        if environ.get("DISPLAY"):
            names.append("xcb")
        if not names:
            return Plan(error=(
                "dpgui: no display to open a window on: neither DISPLAY (X11) nor "
                "WAYLAND_DISPLAY (Wayland) is set.\n"
                "Start dpgui from a desktop session, over `ssh -X`, or under a virtual X "
                "server (`xvfb-run dpgui`).\n"
                "Without a display, `dpgui --screenshot OUT.png CONFIG` and the commands "
                "(dpgui validate, dpgui launch, ...) still work."))
        explicit = False
    folder = folder or plugin_dir()
    if folder is None:
        return Plan()  # not PySide6's layout: leave it to Qt
    resolver = resolver or Resolver(stamp=default_stamp())
    problems: list[tuple[str, Path, dict[str, str]]] = []
    for name in names:
        if not name.startswith(DISPLAY_PLATFORMS):
            return Plan()  # a plugin we don't check comes next: Qt may well manage
        plugin = plugin_file(name, folder)
        if plugin is None:
            continue
        missing = resolver.missing(str(plugin))
        if not missing:
            notes = []
            if problems:
                notes.append(_describe(*problems[0]) + f"; using {name} instead.")
            # Qt tries the first name only when it was not asked for a list: say which works
            return Plan(env={"QT_QPA_PLATFORM": name} if problems and not explicit else {},
                        notes=notes)
        problems.append((name, plugin, missing))
    # nothing asked for loads: a Wayland session next door is the fallback for X11
    if not explicit and "wayland" not in names and _wayland_socket(environ):
        plugin = plugin_file("wayland", folder)
        if plugin is not None and not resolver.missing(str(plugin)):
            return Plan(env={"QT_QPA_PLATFORM": "wayland",
                             "WAYLAND_DISPLAY": _wayland_socket(environ) or ""},
                        notes=[_describe(*problems[0]) + "; using the Wayland session instead."])
    if not problems:
        return Plan()
    if _loads(problems[0][1]):  # the loader disagrees with us: never block a working start
        return Plan()
    sonames = sorted({s for _n, _p, m in problems for s in m})
    lines = [_describe(*p) + "." for p in problems]
    lines.append("Install the missing libraries, then start dpgui again:")
    lines += ["  " + line for line in install_commands(sonames, os_ids)]
    lines.append("Without a display, `dpgui --screenshot OUT.png CONFIG` and the commands "
                 "(dpgui validate, dpgui launch, ...) still work.")
    return Plan(error="\n".join(lines))


_LABELS = {"xcb": "X11 (xcb)", "wayland": "Wayland"}


def _describe(name: str, plugin: Path, missing: dict[str, str]) -> str:
    label = _LABELS.get(name.split("-")[0], name)
    libs = ", ".join(sorted(missing))
    return (f"dpgui: Qt's {label} platform plugin ({plugin.name}) cannot load: "
            f"this system lacks {libs}")


def _loads(plugin: Path) -> bool:
    """Ask the real dynamic loader (only on the failure path: it loads Qt's libraries)."""
    import ctypes

    try:
        ctypes.CDLL(str(plugin), mode=getattr(os, "RTLD_LAZY", 1) | getattr(os, "RTLD_LOCAL", 0))
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m dpgui_qt.core.displaycheck [--packages apt|dnf|pacman] [PLATFORM]``:
    what the platform plugin (default xcb) lacks here, as a report or as package names
    for one package manager (empty when nothing is missing; used by .ci/run)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m dpgui_qt.core.displaycheck",
                                 description=(main.__doc__ or "").splitlines()[0])
    ap.add_argument("platform", nargs="?", default="xcb", choices=DISPLAY_PLATFORMS)
    ap.add_argument("--packages", choices=("apt", "dnf", "pacman"))
    args = ap.parse_args(argv)
    folder = plugin_dir()
    plugin = plugin_file(args.platform, folder) if folder else None
    if plugin is None:
        print(f"no {args.platform} platform plugin found in PySide6", file=sys.stderr)
        return 2
    missing = Resolver().missing(str(plugin))
    if args.packages:
        col = ("apt", "dnf", "pacman").index(args.packages)
        print(" ".join(sorted({PACKAGES[s][col] for s in missing if s in PACKAGES})))
        return 0
    if not missing:
        print(f"{plugin}: every library it needs is here")
        return 0
    print(_describe(args.platform, plugin, missing) + ".")
    for line in install_commands(sorted(missing)):
        print("  " + line)
    return 1


if __name__ == "__main__":
    sys.exit(main())
