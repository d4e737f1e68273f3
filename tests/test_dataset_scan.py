"""Dataset scan: counts and problems on small datasets written with Pillow."""
from __future__ import annotations

import json
import os
import struct

import pytest

from dpgui_qt.core.dataset import media
from dpgui_qt.core.dataset.scan import FILES_CAP, scan_dataset, scan_directory



def qimage(path, w, h, fmt=None, color=0xFF3366AA):
    """A solid ``w`` x ``h`` image at ``path`` in ``fmt`` (by default the suffix's format)."""
    from PIL import Image

    Image.new("RGB", (w, h), ((color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF)).save(path, fmt)


def animated_webp(w: int, h: int) -> bytes:
    """RIFF/WEBP with a VP8X chunk (animation flag) followed by an ANIM chunk."""
    vp8x = bytes([0x02, 0, 0, 0]) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    anim = b"\xff\xff\xff\xff" + struct.pack("<H", 0)  # background colour, loop forever
    body = b"WEBP" + b"VP8X" + struct.pack("<I", 10) + vp8x + b"ANIM" + struct.pack("<I", 6) + anim
    return b"RIFF" + struct.pack("<I", len(body)) + body


FAKE_MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64


@pytest.fixture
def ds(tmp_path):
    """imgs/ with captions, masks/ and control/:

    a.png 512x512  caption   mask ok          control
    b.jpg 768x512  caption   mask 100x100 (wrong size)  control
    c.png 512x768  -         no mask          control
    d.jpg (PNG content) 640x480 caption  mask ok  control
    e.png 300x200  empty caption  mask ok     no control
    f.webp animated 64x48  caption  mask ok   control
    clip.mp4 (fake)  caption  mask (not sized)  control
    readme.md  not an image
    orphan.txt  caption without media
    sub/  a subfolder; cache/ (diffusion-pipe's own, not reported)
    """
    d = tmp_path / "imgs"
    m = tmp_path / "masks"
    c = tmp_path / "control"
    for p in (d, m, c, d / "sub", d / "cache"):
        p.mkdir()
    qimage(d / "a.png", 512, 512)
    qimage(d / "b.jpg", 768, 512, "JPEG")
    qimage(d / "c.png", 512, 768)
    qimage(d / "d.jpg", 640, 480, "PNG")  # a PNG named .jpg
    qimage(d / "e.png", 300, 200)
    (d / "f.webp").write_bytes(animated_webp(64, 48))
    (d / "clip.mp4").write_bytes(FAKE_MP4)
    (d / "readme.md").write_text("notes")
    for stem, text in (("a", "a cat"), ("b", "a dog"), ("d", "a fox"), ("f", "anim"),
                       ("clip", "a clip"), ("orphan", "nobody")):
        (d / f"{stem}.txt").write_text(text)
    (d / "e.txt").write_bytes(b"")
    qimage(m / "a.png", 512, 512)
    qimage(m / "b.png", 100, 100)
    qimage(m / "d.png", 640, 480)
    qimage(m / "e.png", 300, 200)
    qimage(m / "f.png", 64, 48)
    qimage(m / "clip.png", 8, 8)
    for stem in ("a", "b", "c", "d", "f", "clip"):
        qimage(c / f"{stem}.png", 16, 16)
    return tmp_path


def _kinds(scan):
    return {p.kind: p for p in scan.problems}


def test_counts_and_problems_with_sizes(ds):
    cfg = {"path": str(ds / "imgs"), "mask_path": str(ds / "masks"),
           "control_path": str(ds / "control")}
    s = scan_directory(cfg, {"resolutions": [512]}, model_type="flux", sizes=True)
    assert s.exists and not s.cancelled and s.headers_read and s.sizes_read
    assert s.images == ["a.png", "b.jpg", "c.png", "d.jpg", "e.png", "f.webp"]
    assert s.videos == ["clip.mp4"]
    assert s.captions == ["a.txt", "b.txt", "clip.txt", "d.txt", "e.txt", "f.txt", "orphan.txt"]
    assert s.missing_captions == ["c.png"]
    assert s.orphan_captions == ["orphan.txt"]
    assert s.empty_captions == ["e.txt"]
    assert s.missing_masks == ["c.png"]
    assert s.masks["a.png"] == "a.png" and len(s.masks) == 6
    assert s.mask_size_mismatch == {"b.jpg": ((768, 512), (100, 100))}
    # readme.md is a media candidate for diffusion-pipe, so it needs a control too
    assert s.missing_controls == ["e.png", "readme.md"]
    assert s.mismatched == {"d.jpg": "png"}
    # the fake clip.mp4 has an MP4 signature but no video in it: PyAV cannot read it
    assert set(s.unsupported) == {"f.webp", "readme.md", "clip.mp4"}
    assert "cannot be read as a video" in s.unsupported["clip.mp4"]
    assert s.unsupported["f.webp"].startswith("animated WebP")
    assert s.subdirs == ["sub"]
    assert s.sizes["a.png"] == (512, 512) and s.sizes["b.jpg"] == (768, 512)
    assert s.sizes["d.jpg"] == (640, 480) and s.sizes["f.webp"] == (64, 48)
    expected_bytes = sum(os.path.getsize(ds / "imgs" / n) for n in os.listdir(ds / "imgs")
                         if (ds / "imgs" / n).is_file() and n != "orphan.txt") \
        + os.path.getsize(ds / "imgs" / "orphan.txt")
    assert s.total_bytes == expected_bytes
    # c.png (no caption), f.webp, readme.md and the fake clip.mp4 (unsupported) are not
    # trainable
    assert s.trainable() == ["a.png", "b.jpg", "d.jpg", "e.png"]
    k = _kinds(s)
    assert k["missing_captions"].files == ["c.png"] and k["missing_captions"].severity == "warning"
    assert k["empty_captions"].files == ["e.txt"]
    assert k["orphan_captions"].severity == "info"
    assert k["missing_masks"].files == ["c.png"]
    assert k["mask_size"].severity == "error" and k["mask_size"].files == ["b.jpg"]
    assert k["control_files_complete"].count == 2
    assert k["webp_video"].severity == "error" and k["webp_video"].files == ["f.webp"]
    assert k["unsupported_files"].files == ["clip.mp4", "readme.md"]
    assert k["format_mismatch"].files == ["d.jpg"]
    assert k["videos_for_image_models"].severity == "error"
    assert k["subfolders_ignored"].files == ["sub"]
    assert "directory_empty" not in k
    for p in s.problems:
        assert p.message and p.source, p
    # serialisable
    data = json.loads(s.to_json())
    assert data["counts"]["images"] == 6 and data["sizes"]["a.png"] == [512, 512]


def test_video_model_accepts_videos_and_no_sizes_mode(ds):
    s = scan_directory({"path": str(ds / "imgs")}, {}, model_type="wan")
    assert "videos_for_image_models" not in _kinds(s)
    assert not s.sizes_read and s.sizes == {}
    # headers without sizes still catch the animated WebP and the PNG named .jpg
    assert "f.webp" in s.unsupported and s.mismatched == {"d.jpg": "png"}
    assert s.empty_captions == ["e.txt"]


def test_names_only_mode(ds):
    s = scan_directory({"path": str(ds / "imgs")}, {}, read_headers=False)
    assert len(s.images) == 6 and len(s.videos) == 1
    assert s.total_bytes is None and s.mismatched == {} and s.empty_captions == []
    assert s.missing_captions == ["c.png"]
    assert "readme.md" in s.unsupported


def test_skip_empty_caption_off_trains_uncaptioned(ds):
    s = scan_directory({"path": str(ds / "imgs")}, {"skip_empty_caption": False})
    assert "c.png" in s.trainable()
    assert "empty prompt" in _kinds(s)["missing_captions"].message


def test_empty_and_missing_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    s = scan_directory({"path": str(tmp_path / "empty")}, {})
    assert _kinds(s)["directory_empty"].severity == "error"
    s = scan_directory({"path": str(tmp_path / "nope")}, {})
    assert not s.exists and _kinds(s)["directory_missing"].severity == "error"
    s = scan_directory({"path": str(tmp_path / "empty"), "mask_path": str(tmp_path / "x")}, {})
    assert "mask_path_missing" in _kinds(s)


def test_online_captions_and_captions_json(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    qimage(d / "a.png", 32, 32)
    qimage(d / "b.png", 32, 32)
    (d / "a.txt").write_text("ignored when captions.json exists")
    s = scan_directory({"path": str(d)}, {"online_captions": True})
    assert _kinds(s)["online_captions_file"].severity == "error"
    (d / "captions.json").write_text(json.dumps({"a.png": ["one", "two"]}))
    s = scan_directory({"path": str(d)}, {"online_captions": True})
    k = _kinds(s)
    assert "online_captions_file" not in k
    assert k["captions_json_overrides_txt"].severity == "warning"
    assert k["captions_json_missing_entries"].files == ["b.png"]
    assert s.trainable() == ["a.png"]
    assert s.captions_per_item("a.png") == 2


def test_inheritance_directory_overrides_dataset(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    qimage(d / "a.png", 8, 8)
    s = scan_directory({"path": str(d), "num_repeats": 3}, {"num_repeats": 2,
                                                            "skip_empty_caption": False})
    assert s.settings["num_repeats"] == 3 and s.settings["skip_empty_caption"] is False


def test_relative_paths_use_base_dir(ds):
    s = scan_directory({"path": "imgs"}, {}, base_dir=str(ds))
    assert s.exists and len(s.images) == 6


def test_video_suffix_case_and_video_named_png(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.Mp4").write_bytes(FAKE_MP4)  # diffusion-pipe: neither .mp4 nor .MP4
    (d / "b.MP4").write_bytes(FAKE_MP4)
    (d / "c.png").write_bytes(FAKE_MP4)  # a video named .png
    (d / "z.png").write_bytes(b"")  # empty file
    s = scan_directory({"path": str(d)}, {"skip_empty_caption": False})
    assert s.videos == ["b.MP4"]
    k = _kinds(s)
    assert k["video_suffix_case"].files == ["a.Mp4"]
    assert "c.png" in s.unsupported and "z.png" in s.unsupported


def test_problem_files_are_capped(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    png = (tmp_path / "x.png")
    qimage(png, 4, 4)
    data = png.read_bytes()
    for i in range(FILES_CAP + 7):
        (d / f"{i:03d}.png").write_bytes(data)
    s = scan_directory({"path": str(d)}, {})
    p = _kinds(s)["missing_captions"]
    assert p.count == FILES_CAP + 7 and len(p.files) == FILES_CAP


def test_scan_dataset_progress_and_cancel(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    png = tmp_path / "x.png"
    qimage(png, 4, 4)
    data = png.read_bytes()
    for i in range(1200):
        (d / f"{i:04d}.png").write_bytes(data)
        (d / f"{i:04d}.txt").write_text("x")
    calls = []
    full = scan_dataset({"directory": [{"path": str(d)}]}, progress=lambda a, b: calls.append((a, b)))
    assert not full.cancelled and len(full.directories[0].images) == 1200
    assert calls and calls[-1][0] == calls[-1][1]
    assert all(a <= b for a, b in calls)

    polls = []

    def cancel():
        polls.append(1)
        return len(polls) >= 3

    part = scan_dataset({"directory": [{"path": str(d)}, {"path": str(d)}]}, cancel=cancel)
    assert part.cancelled and len(part.directories) == 1
    assert part.directories[0].cancelled
    # stopped long before the 2400 entries x 2 directories were all visited
    assert len(polls) == 3


def test_scan_dataset_no_directories_and_duplicates(ds):
    r = scan_dataset({})
    assert r.problems[0].kind == "no_directories"
    r = scan_dataset({"directory": [{"path": str(ds / "imgs")}, {"path": str(ds / "imgs")}]},
                     read_headers=False)
    assert [p.kind for p in r.problems] == ["duplicate_directory"]
    assert json.loads(r.to_json())["directories"][1]["counts"]["images"] == 6


# ---------------------------------------------------------------- header readers
@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("JPEG", ".jpg"), ("BMP", ".bmp"),
                                        ("GIF", ".gif"), ("WEBP", ".webp")])
def test_header_sizes_match_pillow(tmp_path, fmt, suffix):
    """Files Pillow wrote; tests/gui/test_dataset_headers_qt.py reads files Qt wrote."""
    p = tmp_path / f"x{suffix}"
    qimage(p, 123, 45, fmt)
    info = media.probe_file(str(p))
    assert info.size == (123, 45)
    assert info.format == fmt.lower()


def test_pillow_webp_variants(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    for kw, name in (({"lossless": True}, "l.webp"), ({"quality": 50}, "y.webp")):
        Image.new("RGB", (77, 33)).save(tmp_path / name, "WEBP", **kw)
        assert media.probe_file(str(tmp_path / name)).size == (77, 33)
    frames = [Image.new("RGB", (20, 10), c) for c in ("red", "blue")]
    frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:])
    info = media.probe_file(str(tmp_path / "anim.webp"))
    assert info.animated and info.size == (20, 10)


def test_jpeg_exif_orientation(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    img = Image.new("RGB", (40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(tmp_path / "r.jpg", exif=exif.tobytes())
    info = media.probe_file(str(tmp_path / "r.jpg"))
    assert info.size == (40, 20) and info.exif_orientation == 6
    (tmp_path / "r.txt").write_text("x")
    s = scan_directory({"path": str(tmp_path)}, {}, sizes=True)
    assert s.exif_rotated == ["r.jpg"]
    assert _kinds(s)["exif_rotation_ignored"].severity == "warning"


def test_pillow_fallback_for_tiff(tmp_path):
    qimage(tmp_path / "t.tif", 31, 17, "TIFF")
    assert media.image_size(str(tmp_path / "t.tif")) == (31, 17)


def test_dp_video_suffix_rule():
    assert media.is_dp_video_suffix(".mp4") and media.is_dp_video_suffix(".MP4")
    assert not media.is_dp_video_suffix(".Mp4") and not media.is_dp_video_suffix(".png")
    # imageio lists .j2k among its video extensions, so diffusion-pipe does too
    assert media.is_dp_video_suffix(".j2k")
