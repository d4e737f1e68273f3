"""Render docs/screenshot-dataset-video.png (the Media tab on a video dataset) and
docs/screenshot-dataset-video-buckets.png (the aspect x frame bucket matrix): a demo
Wan dataset of short generated clips (PyAV) at 24, 25, 30 and 60 fps, landscape and
portrait, one .mkv, one too short, one corrupt file and one image.

    PYTHONPATH=. python bench/make_dataset_video_screenshot.py [OUTDIR]
"""
from __future__ import annotations

import colorsys
import os
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# name, fps, frames, (w, h), caption
CLIPS = [
    ("beach_walk.mp4", 30, 96, (320, 180), "a woman walks along a beach at sunset"),
    ("city_timelapse.mp4", 25, 130, (320, 180), "timelapse of a city skyline, clouds"),
    ("dog_running.mov", 60, 200, (320, 180), "a dog runs across a meadow"),
    ("dancer.mp4", 24, 81, (180, 320), "a dancer spins in a studio"),
    ("waterfall.mkv", 30, 75, (320, 180), "a waterfall in a forest, mist"),
    ("cat_jump.mp4", 30, 30, (240, 240), "a cat jumps onto a table"),
    ("train_pass.webm", 24, 52, (320, 180), "a train passes a crossing"),
    ("portrait_smile.mp4", 25, 68, (180, 320), "a man smiles at the camera"),
]


def _clip(path: Path, fps: int, frames: int, size, seed: int) -> None:
    import av
    import numpy as np

    w, h = size
    fmt = {".mkv": "matroska", ".webm": "webm", ".mov": "mov"}.get(path.suffix, "mp4")
    codec = "libvpx-vp9" if fmt == "webm" else "libx264"
    yy, xx = np.mgrid[0:h, 0:w]
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            t = i / fps
            hue = (seed * 0.13 + 0.05 * t) % 1.0
            top = np.array(colorsys.hsv_to_rgb(hue, 0.55, 0.95)) * 255
            bottom = np.array(colorsys.hsv_to_rgb((hue + 0.35) % 1.0, 0.7, 0.55)) * 255
            k = (yy / h)[..., None]
            img = (top * (1 - k) + bottom * k)
            cx = (0.2 + 0.6 * ((t * 0.3 + seed * 0.1) % 1.0)) * w
            cy = h * (0.45 + 0.1 * np.sin(t * 2 + seed))
            disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < (min(w, h) * 0.18) ** 2
            img[disc] = (250, 240, 200)
            f = av.VideoFrame.from_ndarray(img.astype(np.uint8), format="rgb24")
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def make_demo(base: Path) -> Path:
    clips = base / "clips"
    clips.mkdir(parents=True)
    for i, (name, fps, n, size, cap) in enumerate(CLIPS):
        _clip(clips / name, fps, n, size, i)
        (clips / (name.rsplit(".", 1)[0] + ".txt")).write_text(cap)
    (clips / "broken_export.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 500)
    (clips / "broken_export.txt").write_text("an export that failed")
    from PIL import Image
    Image.new("RGB", (320, 240), (90, 140, 200)).save(clips / "still_sky.png")
    (clips / "still_sky.txt").write_text("a clear blue sky")
    (base / "dataset.toml").write_text(
        "# Wan LoRA on short clips\nresolutions = [512]\nenable_ar_bucket = true\n"
        "min_ar = 0.5\nmax_ar = 2.0\nnum_ar_buckets = 5\n"
        "frame_buckets = [1, 33, 49, 81]\n\n"
        f"[[directory]]\npath = '{clips}'\nnum_repeats = 2\n")
    (base / "main.toml").write_text(
        f"output_dir = '{base / 'out'}'\ndataset = 'dataset.toml'\nepochs = 40\n"
        "micro_batch_size_per_gpu = 1\ngradient_accumulation_steps = 1\n"
        "save_every_n_epochs = 5\nvideo_clip_mode = 'single_beginning'\n\n"
        "[model]\ntype = 'wan'\nckpt_path = '/models/Wan2.1-T2V-14B'\ndtype = 'bfloat16'\n\n"
        "[adapter]\ntype = 'lora'\nrank = 32\ndtype = 'bfloat16'\n\n"
        "[optimizer]\ntype = 'adamw_optimi'\nlr = 2e-5\n")
    return base / "main.toml"


def main() -> int:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"
    from PySide6.QtWidgets import QApplication

    from dpgui_qt.gui.app import SCREENSHOT_SIZE
    from dpgui_qt.gui.dataset.page import prepare_screenshot
    from dpgui_qt.gui.mainwindow import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        main_toml = make_demo(Path(tmp))
        win = MainWindow()
        win.resize(*SCREENSHOT_SIZE)
        win.show()
        assert win.open_file(main_toml, ask=False)
        prepare_screenshot(win)
        ed = win.page("dataset").current_editor()
        ed.wait_idle(60)
        import time
        end = time.monotonic() + 20
        loader = ed.media.model.loader
        while time.monotonic() < end:  # paints request thumbnails; let them arrive
            win.grab()
            app.processEvents()
            if loader.idle() and len(loader.broken) + loader.loaded_count >= 10:
                break
            time.sleep(0.02)
        for _ in range(5):
            app.processEvents()
        win.grab().save(str(out_dir / "screenshot-dataset-video.png"))
        ed.tabs.setCurrentWidget(ed.buckets)
        for _ in range(10):
            app.processEvents()
        win.grab().save(str(out_dir / "screenshot-dataset-video-buckets.png"))
        win.session.doc.saved_text = win.session.doc.text
        ed.shutdown()
        win.close()
    print("wrote", out_dir / "screenshot-dataset-video.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
