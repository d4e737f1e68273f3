"""The Dataset tab on a video dataset: a line per video (fps, frames before -> after,
bucket or why it is skipped), the aspect x frames matrix, the filters and warnings.
Expected values: see tests/test_dataset_video.py (hunyuan-video, 24 fps)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from dpgui_qt.gui.dataset import media_view as mv

pytest.importorskip("av")

MAIN = """\
output_dir = '{out}'
dataset = 'dataset.toml'
epochs = 1
micro_batch_size_per_gpu = 1
gradient_accumulation_steps = 1
video_clip_mode = 'single_middle'

[model]
type = 'hunyuan-video'
ckpt_path = '/nonexistent/hunyuan'
dtype = 'bfloat16'

[optimizer]
type = 'adamw_optimi'
lr = 2e-5
"""


@pytest.fixture
def video_main(tmp_path, video_dataset):
    (tmp_path / "dataset.toml").write_text(
        "resolutions = [256]\nframe_buckets = [1, 17, 33, 65]\n\n"
        f"[[directory]]\npath = '{video_dataset}'\n")
    main = tmp_path / "main.toml"
    main.write_text(MAIN.format(out=tmp_path / "out"))
    return main


def _editor(window, main):
    assert window.open_file(main, ask=False)
    window.show_page("dataset")
    ed = window.page("dataset").editors[0]
    ed._first_show()
    assert ed.wait_idle(30)
    assert ed.scans.state(0) == "done" and not ed.scans.running
    return ed


def test_video_rows_matrix_filters_and_warnings(window, video_main):
    ed = _editor(window, video_main)
    model = ed.media.model
    plans = model.plans
    assert plans["v24_33.mp4"].frame_bucket == 33
    assert plans["v60_130.mp4"].clip == (9, 42)  # single_middle from the main config
    # the tile's line and the tooltip
    row = model.row_of("v60_130.mp4")
    first, second, color = mv.video_lines(model.data(model.index(row), mv.VideoRole))
    assert (first, second, color) == ("60→24 fps · 130→52 f", "bucket 33 frames", None)
    short = mv.video_lines(plans["v30_16.mp4"])
    assert short == ("30→24 fps · 16→12 f", "too short: needs 17", mv.SKIP_COLOR)
    near = mv.video_lines(plans["v24_32.mp4"])
    assert near[1] == "bucket 17 frames (1 short of 33)" and near[2] == mv.NEAR_COLOR
    tip = model.data(model.index(model.row_of("v30_32.mkv")), Qt.ItemDataRole.ToolTipRole)
    assert "counted by demuxing" in tip and "25 frames" in tip
    assert model.data(model.index(model.row_of("v30_16.mp4")), mv.ProblemRole).startswith(
        "too short")
    # filters
    br = ed.media
    br.kind_filter.setCurrentIndex(mv.FILTER_TOO_SHORT)
    shown = {br.proxy.index(r, 0).data() for r in range(br.proxy.rowCount())}
    assert shown == {"v30_16.mp4"}
    br.kind_filter.setCurrentIndex(mv.FILTER_SKIPPED)
    shown = {br.proxy.index(r, 0).data() for r in range(br.proxy.rowCount())}
    assert shown == {"v30_16.mp4", "corrupt.mp4", "nocap.png"}
    br.kind_filter.setCurrentIndex(mv.FILTER_NO_CAPTION)
    assert br.proxy.rowCount() == 1
    br.kind_filter.setCurrentIndex(mv.FILTER_VIDEOS)
    assert br.proxy.rowCount() == 10
    br.kind_filter.setCurrentIndex(mv.FILTER_ALL)
    # the bucket matrix: aspect x frames, 65 reached by nobody
    m = ed.buckets.matrix
    assert not m.isHidden()
    heads = [m.horizontalHeaderItem(c).text() for c in range(m.columnCount())]
    assert heads == ["images (1)", "17 frames", "33 frames", "65 frames"]
    totals = [m.item(m.rowCount() - 1, c).text() for c in range(m.columnCount())]
    assert totals == ["2", "4", "3", "0"]
    assert m.empty_frames == [65]
    # warnings in the Problems tab
    text = ed.problems.toPlainText()
    assert "No video here reaches frame bucket 65" in text
    assert "v24_32.mp4: 32 frames, 1 short of 33" in text
    assert "v30_16.mp4: 12 frames" in text
    assert ed.tabs.tabText(2).startswith("Problems (")
    # the folder row counts them too
    sev, msgs = ed.dir_model.problems(0)
    assert sev == "warning" and any("frame bucket 65" in m for _s, m in msgs)
    # the estimate counts images and videos together
    assert ed.estimate.estimate.items_per_epoch == 9


def test_frame_bucket_edit_rebuckets_without_rescan(window, video_main):
    ed = _editor(window, video_main)
    ed.session.set_value(("frame_buckets",), [1, 9, 17, 33, 65])
    ed.wait_idle(30)
    plans = ed.media.model.plans
    # 12 frames at 24 fps now fit the new 9-frame bucket
    assert plans["v30_16.mp4"].frame_bucket == 9 and not plans["v30_16.mp4"].skipped


def test_wan_checkpoint_in_the_main_config_sets_the_rate(window, video_main, tmp_path):
    text = video_main.read_text().replace("type = 'hunyuan-video'", "type = 'wan'")
    video_main.write_text(text)
    ed = _editor(window, video_main)
    assert ed.media.model.plans["v24_33.mp4"].frame_bucket == 17  # 22 frames at 16 fps
    assert "assumed" in ed.buckets.info.text()
    sky = tmp_path / "SkyReels-V2-T2V-14B-720P"
    sky.mkdir()
    window.session.set_value(("model", "ckpt_path"), str(sky))
    ed.wait_idle(30)
    assert ed.media.model.plans["v24_33.mp4"].frame_bucket == 33  # 33 frames at 24 fps


def test_video_thumbnail_is_the_first_frame(video_dataset):
    img = mv.first_frame(str(video_dataset / "v24_33.mp4"), 64)
    assert not img.isNull() and img.width() == 32  # never upscaled
    # the top half of every frame is red-ish (tests/video_fixtures.py)
    assert img.pixelColor(16, 4).red() > 150
    assert mv.first_frame(str(video_dataset / "corrupt.mp4"), 64).isNull()


def test_video_thumbnail_with_padded_rows(tmp_path):
    from tests.video_fixtures import write_video

    # 320x180 scaled to 150x84: the decoder pads each row of 450 bytes to 480
    write_video(tmp_path / "wide.mp4", "mp4", "libx264", 24, 3, 320, 180)
    img = mv.first_frame(str(tmp_path / "wide.mp4"), 150)
    assert (img.width(), img.height()) == (150, 84)
    assert img.pixelColor(75, 10).red() > 150
