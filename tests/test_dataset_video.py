"""Video datasets: headers read with PyAV, diffusion-pipe's video path simulated.

Expected values are worked out by hand from diffusion-pipe's formulas, with the
frame buckets [1, 17, 33] of tests/video_fixtures.py:

frames after resampling = int(source_frames * model_fps / source_fps)

clip            src fps  src frames   at 16 fps        at 24 fps
v24_33.mp4        24       33         22 -> 17         33 -> 33
v24_32.mp4        24       32         21 -> 17         32 -> 17 (1 short of 33)
v25_26.webm       25       26         16 -> too short  24 -> 17
v30_32.mkv        30       32         17 -> 17         25 -> 17
v60_66.mov        60       66         17 -> 17         26 -> 17
v60_130.mp4       60      130         34 -> 33         52 -> 33
v30_16.mp4        30       16          8 -> too short  12 -> too short
v24_1.mp4         24        1          0 -> too short   1 -> image bucket (a still)
v25_50.avi        25       50         32 -> 17 (1 short of 33)   48 -> 33
corrupt.mp4       unreadable: skipped at any rate
img1.png          48x32 image, captioned -> image bucket
nocap.png         no caption -> skipped
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dpgui_qt.core.dataset import video as V
from dpgui_qt.core.dataset.buckets import bucket_config, directory_buckets
from dpgui_qt.core.dataset.report import dataset_report, skipped_video_findings
from dpgui_qt.core.dataset.scan import scan_directory
from tests.video_fixtures import CLIPS, FRAME_BUCKETS

pytest.importorskip("av")

REPO = Path(__file__).resolve().parents[1]

AT16 = {"v24_33.mp4": (22, 17), "v24_32.mp4": (21, 17), "v25_26.webm": (16, None),
        "v30_32.mkv": (17, 17), "v60_66.mov": (17, 17), "v60_130.mp4": (34, 33),
        "v30_16.mp4": (8, None), "v24_1.mp4": (0, None), "v25_50.avi": (32, 17)}
AT24 = {"v24_33.mp4": (33, 33), "v24_32.mp4": (32, 17), "v25_26.webm": (24, 17),
        "v30_32.mkv": (25, 17), "v60_66.mov": (26, 17), "v60_130.mp4": (52, 33),
        "v30_16.mp4": (12, None), "v24_1.mp4": (1, 1), "v25_50.avi": (48, 33)}


def _ds(folder, **over):
    d = {"resolutions": [256], "frame_buckets": list(FRAME_BUCKETS),
         "directory": [{"path": str(folder)}]}
    d.update(over)
    return d


# ------------------------------------------------------------------ headers
def test_headers_of_every_container(video_dataset):
    for name, _fmt, codec, fps, n in CLIPS:
        h = V.read_header(str(video_dataset / name))
        assert h.ok, (name, h)
        assert (h.width, h.height) == (32, 32), name
        assert h.frames == n, (name, h.frames)
        assert h.fps == fps, (name, h.fps)
        assert h.codec in (codec, codec.replace("lib", "").replace("x264", "h264")
                           .replace("vpx-vp9", "vp9")), (name, h.codec)
    # Matroska/WebM store no frame count: counted by demuxing, not decoding
    assert V.read_header(str(video_dataset / "v30_32.mkv")).frames_from == "packets"
    assert V.read_header(str(video_dataset / "v25_26.webm")).frames_from == "packets"
    assert V.read_header(str(video_dataset / "v24_33.mp4")).frames_from == "header"
    d = V.read_header(str(video_dataset / "v60_130.mp4")).duration_s
    assert d == pytest.approx(130 / 60, abs=0.02)


def test_unreadable_files_are_findings_not_crashes(video_dataset, tmp_path):
    h = V.read_header(str(video_dataset / "corrupt.mp4"))
    assert not h.ok and h.error
    assert not V.read_header(str(tmp_path / "missing.mp4")).ok
    (tmp_path / "empty.mkv").write_bytes(b"")
    assert V.read_header(str(tmp_path / "empty.mkv")).error
    # a truncated real file
    data = (video_dataset / "v24_33.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    cut = V.read_header(str(tmp_path / "cut.mp4"))
    assert cut.error or cut.frames is not None  # never raises


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_hostile_folder_fifo_symlinks_and_suffixes(video_dataset, tmp_path):
    import threading

    d = tmp_path / "hostile"
    d.mkdir()
    os.mkfifo(d / "pipe.mp4")  # opening it would block forever: never opened
    os.symlink(video_dataset / "v24_33.mp4", d / "link.mp4")
    os.symlink(tmp_path / "gone.mp4", d / "dangling.mp4")
    shutil.copy(video_dataset / "v30_32.mkv", d / "UPPER.MKV")  # dp: a video
    shutil.copy(video_dataset / "v30_32.mkv", d / "mixed.Mkv")  # dp: not a video
    shutil.copy(video_dataset / "img1.png", d / "image.mp4")  # an image named .mp4
    for stem in ("pipe", "link", "dangling", "UPPER", "mixed", "image"):
        (d / f"{stem}.txt").write_text("x")
    out = {}
    t = threading.Thread(target=lambda: out.update(rep=dataset_report(
        {"resolutions": [256], "frame_buckets": [1, 17], "directory": [{"path": str(d)}]},
        "hunyuan-video")), daemon=True)
    t.start()
    t.join(60)
    assert not t.is_alive(), "the scan blocked"
    rep = out["rep"]
    plans = rep.directories[0].buckets.video_plans
    assert plans["link.mp4"].frame_bucket == 17 and not plans["link.mp4"].skipped
    assert plans["UPPER.MKV"].header.frames == 32
    assert "pipe.mp4" not in plans and "dangling.mp4" not in plans
    skipped = {n for _d, n, _w in rep.skipped()}
    assert {"mixed.Mkv", "image.mp4"} <= skipped and "link.mp4" not in skipped


def test_packet_count_is_cancellable(tmp_path):
    from tests.video_fixtures import write_video

    long_mkv = tmp_path / "long.mkv"
    write_video(long_mkv, "matroska", "mpeg4", 30, 1100, 16, 16)
    assert V.read_header(str(long_mkv)).frames == 1100
    with pytest.raises(V.VideoCancelled):
        V.read_header(str(long_mkv), lambda: True)
    # the scan turns it into a cancelled result, not an exception
    (tmp_path / "long.txt").write_text("x")
    scan = scan_directory({"path": str(tmp_path)}, {"resolutions": [256]},
                          model_type="wan", sizes=True, cancel=lambda: True)
    assert scan.cancelled


def test_resampling_formula_matches_diffusion_pipe():
    # int(), not round(): 49 frames at 30 fps -> 26.13 -> 26 at 16 fps
    assert V.resampled_frames(49, 30.0, 16) == 26
    assert V.resampled_frames(33, 24.0, 16) == 22
    assert V.resampled_frames(1, 24.0, 16) == 0
    assert V.resampled_frames(100, 30000 / 1001, 24) == int(100 * 24 / (30000 / 1001))
    assert V.trained_frames(33) == 33 and V.trained_frames(30) == 29
    assert V.trained_frames(17, 8) == 17 and V.trained_frames(20, 8) == 17


# ------------------------------------------------------------------ the video path
@pytest.mark.parametrize("model,fps,expect", [("cosmos_predict2", 16, AT16),
                                              ("hunyuan-video", 24, AT24)])
def test_frames_buckets_and_skips(video_dataset, model, fps, expect):
    ds = _ds(video_dataset)
    scan = scan_directory(ds["directory"][0], ds, model_type=model, sizes=True)
    db = directory_buckets(scan, ds, model_type=model)
    assert db.framerate.fps == fps and not db.framerate.assumed
    for name, (frames, bucket) in expect.items():
        p = db.video_plans[name]
        assert p.frames == frames, (name, p.frames)
        if bucket is None:
            assert p.status == "too_short" and p.skipped, name
            assert p.shortest_bucket == 17 and p.short_by == 17 - frames
        else:
            assert p.frame_bucket == bucket and not p.skipped, (name, p.frame_bucket)
    assert db.video_plans["corrupt.mp4"].status == "unreadable"
    assert db.video_plans["corrupt.mp4"].skipped


def test_totals_at_16_fps(video_dataset):
    rep = dataset_report(_ds(video_dataset), "cosmos_predict2")
    t = rep.totals()
    # trained: v24_33 v24_32 v30_32 v60_66 v25_50 (17f), v60_130 (33f) + img1.png
    assert t["videos"] == 10 and t["videos_trained"] == 6
    skipped = {n for _d, n, _w in rep.skipped()}
    assert skipped == {"v25_26.webm", "v30_16.mp4", "v24_1.mp4", "corrupt.mp4", "nocap.png"}
    assert t["items_per_epoch"] == 7 and t["steps_per_epoch"] == 7
    fh = rep.directories[0].buckets.frame_histogram()
    assert fh == {1: 1, 17: 5, 33: 1}
    # micro batch 2: the image bucket (1) and the 33-frame bucket (1) are dropped,
    # the 17-frame bucket gives 2 batches and leaves one item out
    rep2 = dataset_report(_ds(video_dataset), "cosmos_predict2",
                          main_values={"micro_batch_size_per_gpu": 2})
    assert rep2.estimate.steps_per_epoch == 2 and rep2.estimate.dropped_items == 3


def test_totals_at_24_fps(video_dataset):
    rep = dataset_report(_ds(video_dataset), "hunyuan-video")
    t = rep.totals()
    skipped = {n for _d, n, _w in rep.skipped()}
    assert skipped == {"v30_16.mp4", "corrupt.mp4", "nocap.png"}
    assert t["videos_trained"] == 8
    # image bucket: img1.png and v24_1.mp4 (one frame at 24 fps: trained as a still)
    assert rep.directories[0].buckets.frame_histogram() == {1: 2, 17: 4, 33: 3}
    assert t["items_per_epoch"] == 9 and t["steps_per_epoch"] == 9
    p = rep.directories[0].buckets.video_plans["v24_1.mp4"]
    assert p.status == "single_frame" and not p.skipped


def test_warnings_empty_buckets_near_misses_and_resampling(video_dataset):
    ds = _ds(video_dataset, frame_buckets=[1, 17, 33, 65])
    scan = scan_directory(ds["directory"][0], ds, model_type="hunyuan-video", sizes=True)
    db = directory_buckets(scan, ds, model_type="hunyuan-video")
    kinds = {p.kind: p for p in db.problems}
    assert "65" in kinds["frame_bucket_empty"].message
    near = kinds["video_near_bucket"]
    assert "v24_32.mp4" in near.files  # 32 frames, 1 short of 33
    assert "v30_16.mp4" in kinds["video_too_short"].files
    assert set(kinds["video_resampled"].files) >= {"v25_26.webm", "v30_32.mkv"}
    assert "v24_33.mp4" not in kinds["video_resampled"].files  # 24 fps already
    assert kinds["video_frames_not_in_header"].files == ["v30_32.mkv"]
    assert kinds["video_frame_count_unreliable"].files == ["v25_26.webm"]
    assert kinds["video_frame_count_unreliable"].severity == "warning"
    assert "v24_1.mp4" in kinds["video_single_frame"].files


def test_clip_modes(video_dataset):
    ds = _ds(video_dataset)
    scan = scan_directory(ds["directory"][0], ds, model_type="hunyuan-video", sizes=True)
    beg = directory_buckets(scan, ds, model_type="hunyuan-video")
    mid = directory_buckets(scan, ds, model_type="hunyuan-video", clip_mode="single_middle")
    # v60_130: 52 frames at 24 fps, bucket 33 -> 33 frames from the start or centred
    assert beg.video_plans["v60_130.mp4"].clip == (0, 33)
    assert mid.video_plans["v60_130.mp4"].clip == (9, 42)  # int((52 - 33) / 2) = 9
    assert mid.clip_mode == "single_middle"
    # odd bucket lengths train 4k + 1 frames (models/base.py)
    ds2 = _ds(video_dataset, frame_buckets=[1, 20])
    # frame_buckets edited after the scan: the current table counts
    db = directory_buckets(scan, ds2, model_type="hunyuan-video",
                           dir_config=ds2["directory"][0])
    assert db.video_plans["v24_33.mp4"].trained == 17
    assert any(p.kind == "frame_bucket_rounded" for p in db.problems)


def test_size_buckets_with_videos(video_dataset):
    # cosmos-style fixed sizes: the first candidate (closest AR) the video can fill
    ds = {"size_buckets": [[256, 256, 1], [256, 256, 33], [320, 192, 17]],
          "directory": [{"path": str(video_dataset)}]}
    scan = scan_directory(ds["directory"][0], ds, model_type="hunyuan-video", sizes=True)
    db = directory_buckets(scan, ds, model_type="hunyuan-video")
    plans = db.video_plans
    assert plans["v24_33.mp4"].frame_bucket == 33
    # 32 frames cannot fill 256x256x33; the next candidate by AR distance is 320x192x17
    assert plans["v24_32.mp4"].frame_bucket == 17
    assert plans["v24_32.mp4"].bucket_label == "320x192x17f"
    assert plans["v30_16.mp4"].status == "too_short"


def test_image_model_skips_videos(video_dataset):
    rep = dataset_report(_ds(video_dataset), "flux")
    plans = rep.directories[0].buckets.video_plans
    assert all(p.skipped for p in plans.values())
    assert plans["v24_33.mp4"].status == "no_framerate"
    assert rep.framerate.fps is None


def test_images_keep_working_in_the_same_pass(video_dataset):
    ds = _ds(video_dataset)
    scan = scan_directory(ds["directory"][0], ds, model_type="wan", sizes=True)
    assert scan.sizes["img1.png"] == (48, 32)
    assert "nocap.png" in scan.missing_captions
    assert scan.sizes["v60_66.mov"] == (32, 32)
    assert "corrupt.mp4" in scan.unsupported


# ------------------------------------------------------------------ frame rates
def test_framerates_come_from_the_schemas():
    expect = {"wan": 16, "hunyuan-video": 24, "hunyuan_video_15": 24, "ltx-video": 25,
              "ltx2": 24, "cosmos": 24, "cosmos_predict2": 16, "anima": 16, "minimax_h3": 24}
    for t, fps in expect.items():
        r = V.model_framerate(t)
        assert r.fps == fps and r.source, t
    assert V.model_framerate("sdxl").fps is None


def test_wan_framerate_depends_on_the_checkpoint(tmp_path):
    r = V.model_framerate("wan", {})
    assert r.fps == 16 and r.assumed and "ckpt_path" in r.note
    sky = tmp_path / "SkyReels-V2-T2V-14B-540P"
    sky.mkdir()
    assert V.model_framerate("wan", {"ckpt_path": str(sky)}).fps == 24
    five = tmp_path / "Wan2.2-TI2V-5B"
    five.mkdir()
    (five / "config.json").write_text(json.dumps({"model_type": "ti2v", "dim": 3072}))
    r = V.model_framerate("wan", {"ckpt_path": str(five)})
    assert r.fps == 24 and not r.assumed
    t2v = tmp_path / "Wan2.1-T2V-14B"
    t2v.mkdir()
    (t2v / "config.json").write_text(json.dumps({"model_type": "t2v"}))
    r = V.model_framerate("wan", {"ckpt_path": str(t2v)})
    assert r.fps == 16 and not r.assumed
    r = V.model_framerate("wan", {"ckpt_path": "/elsewhere/Wan2.1-T2V-14B"})
    assert r.fps == 16 and r.assumed and "5B" in r.note


def test_skyreels_checkpoint_changes_the_buckets(video_dataset, tmp_path):
    sky = tmp_path / "skyreels_v2"
    sky.mkdir()
    main = {"model": {"type": "wan", "ckpt_path": str(sky)}}
    rep = dataset_report(_ds(video_dataset), "wan", main_values=main)
    assert rep.framerate.fps == 24
    assert rep.directories[0].buckets.video_plans["v24_33.mp4"].frame_bucket == 33


# ------------------------------------------------------------------ pre-flight, CLI
def test_skipped_video_findings(video_dataset, tmp_path):
    toml = tmp_path / "dataset.toml"
    toml.write_text(f"resolutions = [256]\nframe_buckets = [1, 17, 33]\n\n[[directory]]\n"
                    f"path = '{video_dataset}'\n")
    found = skipped_video_findings(toml, "cosmos_predict2")
    assert len(found) == 1
    assert set(found[0].files) == {"v25_26.webm", "v30_16.mp4", "v24_1.mp4", "corrupt.mp4"}
    assert "16 fps" in found[0].message
    assert skipped_video_findings(tmp_path / "nope.toml", "wan") == []
    # a check stopped by its time limit says so (cancel is polled every few hundred files)
    big = tmp_path / "big"
    big.mkdir()
    for i in range(600):
        (big / f"n{i}.txt").write_text("x")
    os.symlink(video_dataset / "v30_16.mp4", big / "short.mp4")
    big_toml = tmp_path / "big.toml"
    big_toml.write_text(f"resolutions = [256]\nframe_buckets = [1, 17]\n[[directory]]\n"
                        f"path = '{big}'\n")
    stopped = skipped_video_findings(big_toml, "cosmos_predict2", cancel=lambda: True)
    assert [p.kind for p in stopped] == ["videos_check_incomplete"]
    done = skipped_video_findings(big_toml, "cosmos_predict2")
    assert [p.kind for p in done] == ["videos_skipped"] and done[0].files == ["short.mp4"]


def test_launch_gate_lists_skipped_videos(video_dataset, tmp_path):
    from dpgui_qt.core.run import gate
    from dpgui_qt.core.run.spec import RunSpec

    toml = tmp_path / "dataset.toml"
    toml.write_text(f"resolutions = [256]\nframe_buckets = [1, 17, 33]\n\n[[directory]]\n"
                    f"path = '{video_dataset}'\n")
    ctx = gate.DatasetContext("dataset", toml, {}, {"model": {"type": "hunyuan-video"}},
                              "hunyuan-video", 1, str(tmp_path))
    found = list(gate.skipped_videos(ctx))
    assert len(found) == 1 and found[0].level == "warning"
    assert "v30_16.mp4" in found[0].message and "corrupt.mp4" in found[0].message
    assert gate.skipped_videos in gate.DATASET_CHECKS
    # and through the whole gate, as dpgui launch --check runs it
    main = tmp_path / "main.toml"
    main.write_text(f"output_dir = '{tmp_path / 'out'}'\ndataset = '{toml}'\nepochs = 1\n"
                    "[model]\ntype = 'hunyuan-video'\n")
    report = gate.run_gate(RunSpec(config=str(main), checkout=str(tmp_path)),
                           dataset_checks=[gate.skipped_videos], env_checks=())
    assert any(f.code == "dataset:videos" and "corrupt.mp4" in f.message
               for f in report.warnings)


def _cli(*args):
    """Run the command in-process (the import-time test below uses a subprocess)."""
    import contextlib
    import io
    import types

    from dpgui_qt import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(["dataset-report", *args])
        except SystemExit as exc:  # argparse
            rc = exc.code
    return types.SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())


def test_cli_report_text_json_and_exit_status(video_dataset, tmp_path):
    toml = tmp_path / "dataset.toml"
    toml.write_text(f"resolutions = [256]\nframe_buckets = [1, 17, 33]\n\n[[directory]]\n"
                    f"path = '{video_dataset}'\n")
    p = _cli(str(toml), "--model", "cosmos_predict2")
    assert p.returncode == 1, p.stderr
    assert "v30_32.mkv" in p.stdout and "30→16" in p.stdout and "32→17*" in p.stdout
    assert "too short" in p.stdout and "7 items and 7 steps per epoch" in p.stdout
    j = _cli(str(toml), "--model", "cosmos_predict2", "--json")
    data = json.loads(j.stdout)
    assert j.returncode == 1 and data["totals"]["skipped"] == 5
    files = {f["name"]: f for f in data["directories"][0]["files"]}
    assert files["v60_130.mp4"]["video"]["frames"] == 34
    assert files["v60_130.mp4"]["video"]["frame_bucket"] == 33
    # a clean dataset exits 0; from a main config
    clean = tmp_path / "clean"
    clean.mkdir()
    for n in ("v24_33.mp4", "v60_130.mp4", "v24_33.txt", "v60_130.txt"):
        shutil.copy(video_dataset / n, clean / n)
    (tmp_path / "clean.toml").write_text(
        f"resolutions = [256]\nframe_buckets = [1, 17, 33]\n[[directory]]\npath = '{clean}'\n")
    (tmp_path / "main.toml").write_text(
        "dataset = 'clean.toml'\n[model]\ntype = 'hunyuan-video'\n")
    ok = _cli("--config", str(tmp_path / "main.toml"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "33f" in ok.stdout
    # usage errors
    assert _cli(str(toml)).returncode == 2
    assert _cli(str(toml), "--model", "nope").returncode == 2
    assert _cli(str(tmp_path / "missing.toml"), "--model", "wan").returncode == 2


def test_core_video_module_does_not_import_av_at_import_time():
    code = ("import sys\nimport dpgui_qt.core.dataset.video, dpgui_qt.core.dataset.report\n"
            "import dpgui_qt.core.dataset.scan\n"
            "from dpgui_qt import cli\n"
            "assert cli.main(['dataset-report', '--model', 'wan']) == 2\n"
            "raise SystemExit(1 if 'av' in sys.modules else 0)\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert p.returncode == 0, p.stdout + p.stderr


def test_bucket_config_lists_video_frame_buckets(video_dataset):
    cfg = bucket_config({"path": str(video_dataset)}, _ds(video_dataset))
    assert cfg.frame_buckets == [1, 17, 33]
