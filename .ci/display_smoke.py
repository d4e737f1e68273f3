"""Start dpgui on a real X server (Xvfb) with Qt's xcb plugin, open a config, and check
that the server really shows its window.

    python3 .ci/display_smoke.py [--out grab.png] [--timeout 90]
                                 [--exe dist/dpgui [--hide-system-xcb]]

Everything the tests do runs offscreen; this is the one check that the xcb platform
plugin loads here and the window reaches a display. Steps:

1. start ``Xvfb`` (it picks a free display and reports it through ``-displayfd``);
2. write a config from dpgui's wan LoRA template and run ``python -m dpgui_qt -platform
   xcb CONFIG`` against that display, exactly as a user would start it;
3. wait until the X server lists a top-level window titled with the config's name
   (``xwininfo -root -tree``), then grab that window from the server (``xwd``) and
   check that the image is not blank: many distinct colours and a spread of brightness,
   as a painted window has and an empty or black one does not. The grab is written as a
   PNG (``--out``) to look at.

``--exe`` starts a built dpgui (the single file, the one folder, the installed command)
instead of ``python -m dpgui_qt``. ``--hide-system-xcb`` (root only) starts it in a private
mount namespace where /dev/null is bind-mounted over the system's copies of the libraries
the xcb plugin needs beyond a bare X client (libxcb-cursor, -icccm, -keysyms): a frozen
build must then start from the copies it bundles, as on a minimal system without them.

Exit status 0 when all holds; otherwise 1 with the reason (and dpgui's output).
"""
from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def start_xvfb() -> tuple[subprocess.Popen, str]:
    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1400x900x24",
                             "-nolisten", "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        number = f.readline().strip()
    if not number:
        proc.kill()
        raise SystemExit("display_smoke: Xvfb did not start")
    return proc, f":{number}"


def read_xwd(data: bytes):
    """(width, height, rows of (r, g, b)) from an XWD dump (ZPixmap, 24/32 bits)."""
    h = struct.unpack(">25I", data[:100])
    header_size, fmt, width, height = h[0], h[2], h[4], h[5]
    byte_order, bpp, bpl, ncolors = h[7], h[11], h[12], h[19]
    rmask, gmask, bmask = h[14], h[15], h[16]
    if fmt != 2 or bpp not in (24, 32):
        raise ValueError(f"unexpected XWD layout: format {fmt}, {bpp} bits per pixel")
    start = header_size + ncolors * 12
    step = bpp // 8
    order = "<" if byte_order == 0 else ">"

    def shift(mask: int) -> int:
        return (mask & -mask).bit_length() - 1

    rs, gs, bs = shift(rmask), shift(gmask), shift(bmask)
    rows = []
    for y in range(height):
        line = data[start + y * bpl:start + y * bpl + width * step]
        row = []
        for x in range(0, len(line), step):
            px = int.from_bytes(line[x:x + step], "little" if order == "<" else "big")
            row.append(((px & rmask) >> rs, (px & gmask) >> gs, (px & bmask) >> bs))
        rows.append(row)
    return width, height, rows


def window_id(display: str, title_part: str) -> str | None:
    out = subprocess.run(["xwininfo", "-root", "-tree", "-display", display],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and parts[0].startswith("0x") and title_part in parts[1] \
                and '"' in parts[1]:
            return parts[0]
    return None


def system_xcb_copies() -> list[str]:
    """Real paths of the system's libxcb-cursor/-icccm/-keysyms (what ldconfig knows)."""
    if os.geteuid() != 0:
        raise SystemExit("display_smoke: --hide-system-xcb needs root (a private mount namespace)")
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    wanted = ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1")
    found = {os.path.realpath(line.rsplit("=>", 1)[1].strip()) for line in out.splitlines()
             if "=>" in line and line.split()[0] in wanted}
    return sorted(found)


def write_png(path: Path, width: int, height: int, rows) -> None:
    import zlib

    raw = b"".join(b"\0" + bytes(v for px in row for v in px) for row in rows)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "dpgui-xvfb-grab.png"))
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--exe", default=None, help="a built dpgui to start instead of the source")
    ap.add_argument("--hide-system-xcb", action="store_true",
                    help="hide the system's xcb helper libraries from it (root; mount namespace)")
    args = ap.parse_args()
    for tool in ("Xvfb", "xwininfo", "xwd"):
        if shutil.which(tool) is None:
            print(f"display_smoke: {tool} is not installed (apt-get install xvfb x11-utils "
                  "x11-apps)", file=sys.stderr)
            return 1
    work = Path(tempfile.mkdtemp(prefix="dpgui-smoke-"))
    sys.path.insert(0, str(REPO))
    from dpgui_qt.core.config.schema import SchemaRegistry
    from dpgui_qt.core.config.templates import build_template
    from dpgui_qt.resources import schemas_dir

    cfg = work / "smoke_wan_lora.toml"
    cfg.write_text(build_template(SchemaRegistry(schemas_dir()), "wan", "lora",
                                  output_dir=str(work / "out")), encoding="utf-8")
    xvfb, display = start_xvfb()
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    env.update(DISPLAY=display, PYTHONPATH=str(REPO), DPGUI_CONFIG_DIR=str(work / "settings"),
               XDG_CACHE_HOME=str(work / "cache"))
    log = open(work / "dpgui.log", "w+")
    cmd = ([str(Path(args.exe).resolve())] if args.exe else [sys.executable, "-m", "dpgui_qt"]) \
        + ["-platform", "xcb", str(cfg)]
    if args.exe:
        env.pop("PYTHONPATH", None)
    if args.hide_system_xcb:
        hidden = system_xcb_copies()
        print(f"display_smoke: hiding the system's {' '.join(hidden) or '(none installed)'}")
        mounts = "".join(f'mount --bind /dev/null "{p}" && ' for p in hidden)
        cmd = ["unshare", "-m", "sh", "-c", mounts + 'exec "$@"', "sh", *cmd]
    app = subprocess.Popen(cmd,
                           env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    verdict = "timed out waiting for the window"
    ok = False
    try:
        end = time.monotonic() + args.timeout
        wid = None
        while time.monotonic() < end and app.poll() is None:
            wid = wid or window_id(display, cfg.name)
            if wid:
                # the title is set before the window is mapped: xwd refuses an unviewable
                # window (or one being re-created), so such a grab just means "not yet"
                grab = subprocess.run(["xwd", "-silent", "-id", wid, "-display", display],
                                      capture_output=True)
                if grab.returncode != 0 or len(grab.stdout) < 100:
                    verdict = f"window {wid} listed but not grabbable: {grab.stderr!r}"
                    wid = None if b"BadWindow" in grab.stderr else wid
                    time.sleep(0.5)
                    continue
                width, height, rows = read_xwd(grab.stdout)
                colours = {px for row in rows[::4] for px in row[::4]}
                lum = [sum(px) / 3 for row in rows[::4] for px in row[::4]]
                mean = sum(lum) / len(lum)
                spread = (sum((v - mean) ** 2 for v in lum) / len(lum)) ** 0.5
                verdict = (f"window {wid} {width}x{height}: {len(colours)} distinct colours, "
                           f"brightness spread {spread:.1f}")
                if width >= 400 and height >= 300 and len(colours) >= 16 and spread >= 10:
                    write_png(Path(args.out), width, height, rows)
                    ok = True
                    break
            time.sleep(0.5)
        if app.poll() is not None:
            verdict = f"dpgui exited with status {app.returncode} before its window showed"
    finally:
        if app.poll() is None:
            app.terminate()
            try:
                app.wait(10)
            except subprocess.TimeoutExpired:
                app.kill()
        xvfb.terminate()
        xvfb.wait(10)
    log.seek(0)
    output = log.read()
    if ok:
        print(f"display_smoke: dpgui on Xvfb {display} with the xcb plugin showed "
              f"{cfg.name}; {verdict}; grab written to {args.out}")
        return 0
    print(f"display_smoke: FAILED: {verdict}\n--- dpgui output ---\n{output}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
