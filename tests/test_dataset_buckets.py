"""Bucket maths against numbers worked out by hand (arithmetic in the comments)."""
from __future__ import annotations



from dpgui_qt.core.dataset.buckets import (SizeBucket, bucket_config, directory_buckets,
                                           round_to_multiple_for)
from dpgui_qt.core.dataset.scan import DirectoryScan, directory_settings, scan_directory


def fake_scan(sizes: dict, settings: dict, dataset: dict | None = None) -> DirectoryScan:
    s = DirectoryScan(path="/fake", settings=directory_settings(settings, dataset or {}))
    s.images = sorted(sizes)
    s.sizes = dict(sizes)
    s.sizes_read = True
    return s


def wh(buckets):
    return [(b.width, b.height) for b in buckets]


def test_round_to_multiple_per_model():
    assert round_to_multiple_for("flux") == 16
    assert round_to_multiple_for("ltx-video") == 32
    assert round_to_multiple_for("hunyuan_image") == 32
    assert round_to_multiple_for(None) == 16


def test_ar_bucketing_off_gives_one_square_bucket():
    cfg = bucket_config({}, {"resolutions": [512]})
    # area 512*512, ar 1.0 -> w = sqrt(262144) = 512, h = 262144 / 512 = 512
    assert cfg.ars == [1.0] and cfg.resolutions == [512]
    assert wh(cfg.assign(1920, 1080)) == [(512, 512)]
    assert wh(cfg.assign(100, 900)) == [(512, 512)]


def test_geomspace_buckets_round_to_16():
    cfg = bucket_config({}, {"resolutions": [512], "enable_ar_bucket": True,
                             "min_ar": 0.5, "max_ar": 2.0, "num_ar_buckets": 3},
                        model_type="flux")
    # geomspace(0.5, 2, 3) = [0.5, 1, 2]
    assert cfg.ars == [0.5, 1.0, 2.0]
    # ar 0.5: w = sqrt(262144 * 0.5) = 362.039 -> 362.039/16 = 22.63 -> 23*16 = 368
    #         h = 262144 / 362.039 = 724.077 -> 724.077/16 = 45.25 -> 45*16 = 720
    assert wh(cfg.all_buckets()) == [(368, 720), (512, 512), (720, 368)]
    # 768x512: log(1.5) = 0.405; distances to log ars (-0.693, 0, 0.693): 1.099, 0.405, 0.288
    assert wh(cfg.assign(768, 512)) == [(720, 368)]
    # 512x768: log(0.667) = -0.405 -> nearest is 0.5 (distance 0.288)
    assert wh(cfg.assign(512, 768)) == [(368, 720)]
    # 640x480: log(1.333) = 0.288; to 1.0: 0.288, to 2.0: 0.405 -> square
    assert wh(cfg.assign(640, 480)) == [(512, 512)]


def test_geomspace_buckets_round_to_32_for_ltx():
    cfg = bucket_config({}, {"resolutions": [512], "enable_ar_bucket": True,
                             "min_ar": 0.5, "max_ar": 2.0, "num_ar_buckets": 3},
                        model_type="ltx-video")
    # ar 0.5: 362.039/32 = 11.31 -> 11*32 = 352; 724.077/32 = 22.63 -> 23*32 = 736
    assert wh(cfg.all_buckets()) == [(352, 736), (512, 512), (736, 352)]


def test_geomspace_five_buckets_rounded_to_three_decimals():
    cfg = bucket_config({}, {"resolutions": [1024], "enable_ar_bucket": True,
                             "min_ar": 0.5, "max_ar": 2.0, "num_ar_buckets": 5})
    # geomspace(0.5, 2, 5) = 0.5 * 4**(k/4) = 0.5, 0.7071.., 1, 1.4142.., 2 -> 3 decimals
    assert cfg.ars == [0.5, 0.707, 1.0, 1.414, 2.0]
    # ar 0.707, area 1048576: w = sqrt(741343.2) = 861.01 -> 53.81 -> 54*16 = 864
    #                         h = 1048576 / 861.01 = 1217.85 -> 76.12 -> 76*16 = 1216
    assert wh([cfg.bucket(0.707, 1024)]) == [(864, 1216)]


def test_user_ar_buckets_pairs_and_pair_resolution():
    cfg = bucket_config({}, {"resolutions": [[1024, 768]], "enable_ar_bucket": True,
                             "ar_buckets": [[4, 3], [1, 1], [3, 4]]})
    # pairs -> 4/3, 1, 3/4 -> rounded 1.333, 1.0, 0.75, sorted
    assert cfg.ars == [0.75, 1.0, 1.333]
    # [1024, 768] -> side sqrt(786432) = 886.8100 (3 decimals: 886.81)
    assert cfg.resolutions == [886.81]
    # ar 1.333: area 886.81^2 = 786431.98; w = sqrt(786431.98 * 1.333) = 1023.87 -> 64*16 = 1024
    #           h = 786431.98 / 1023.87 = 768.10 -> 48.006 -> 48*16 = 768
    assert wh(cfg.assign(640, 480)) == [(1024, 768)]
    assert wh(cfg.assign(480, 640)) == [(768, 1024)]


def test_round_half_to_even():
    # 520 x 520 at ar 1: 520/16 = 32.5 -> round() gives 32 (half to even) -> 512, not 528
    assert wh(bucket_config({}, {"resolutions": [520]}).all_buckets()) == [(512, 512)]
    # 536/16 = 33.5 -> 34 -> 544
    assert wh(bucket_config({}, {"resolutions": [536]}).all_buckets()) == [(544, 544)]


def test_directory_overrides_dataset_buckets():
    dataset = {"resolutions": [512], "enable_ar_bucket": False}
    cfg = bucket_config({"resolutions": [256], "enable_ar_bucket": True,
                         "ar_buckets": [0.5, 2.0]}, dataset)
    # ar 2, area 65536: w = sqrt(131072) = 362.04 -> 368, h = 181.02 -> 11.31 -> 176
    assert cfg.ars == [0.5, 2.0] and wh(cfg.all_buckets()) == [(176, 368), (368, 176)]


def test_two_ars_rounding_to_same_size_stay_separate():
    cfg = bucket_config({}, {"resolutions": [512], "enable_ar_bucket": True,
                             "ar_buckets": [1.0, 1.01]})
    # ar 1.01: w = sqrt(262144*1.01) = 514.55 -> 32.16 -> 512; h = 509.47 -> 31.84 -> 512
    b1, b2 = cfg.all_buckets()
    assert (b1.width, b1.height) == (b2.width, b2.height) == (512, 512)
    assert b1.key != b2.key  # (1.0, 512, 512, 1) vs (1.01, 512, 512, 1)
    # 515x510: log(1.0098) = 0.00976; to log(1.01) = 0.00995 the distance is 0.0002
    scan = fake_scan({"sq.png": (512, 512), "wide.png": (515, 510)}, {},
                     {"resolutions": [512], "enable_ar_bucket": True, "ar_buckets": [1.0, 1.01]})
    db = directory_buckets(scan, {})
    assert db.histogram() == {512: {(512, 512): 2}}
    assert sorted(b.ar for b in db.counts) == [1.0, 1.01]


def test_multiple_resolutions_histogram():
    sizes = {f"s{i}.png": (1000, 1000) for i in range(4)}
    sizes.update({f"w{i}.png": (1500, 1000) for i in range(2)})
    scan = fake_scan(sizes, {}, {"resolutions": [512, 768], "enable_ar_bucket": True,
                                 "min_ar": 0.5, "max_ar": 2.0, "num_ar_buckets": 3})
    db = directory_buckets(scan, {})
    # 1500x1000 (ar 1.5) -> ar 2 bucket; at 768: w = sqrt(589824*2) = 1086.12 -> 67.88 -> 1088
    #                                           h = 543.06 -> 33.94 -> 544
    assert db.histogram() == {512: {(512, 512): 4, (720, 368): 2},
                              768: {(768, 768): 4, (1088, 544): 2}}
    assert db.files == 6
    d = db.to_dict()
    assert d["histogram"]["768"]["1088x544"] == 2


def test_size_buckets_positional_pairing_quirk():
    cfg = bucket_config({}, {"size_buckets": [[768, 512, 1], [512, 512, 1]]})
    # sorted ars [1.0, 1.5]; a square image's nearest AR is index 0, and diffusion-pipe
    # takes size_buckets[0] = 768x512 for it
    assert wh(cfg.assign(512, 512)) == [(768, 512)]
    assert [p.kind for p in cfg.problems] == ["size_buckets_order"]
    ok = bucket_config({}, {"size_buckets": [[512, 512, 1], [768, 512, 1]]})
    assert wh(ok.assign(512, 512)) == [(512, 512)] and ok.problems == []
    # an image bucket sharing its AR with a video bucket: deduped ARs = [1.0] so only
    # size_buckets[0] (the 33-frame one) is a candidate and the image is dropped
    vid = bucket_config({}, {"size_buckets": [[512, 512, 1], [512, 512, 33]]})
    assert vid.assign(512, 512) == []
    assert vid.assign(512, 512, frames=40) == [SizeBucket(512, 512, 33, None, 512.0)]


def test_frame_buckets_for_videos():
    cfg = bucket_config({}, {"resolutions": [256], "frame_buckets": [33, 65]})
    assert cfg.frame_buckets == [1, 33, 65]  # 1 is always added
    assert [b.frames for b in cfg.assign(256, 256, 40)] == [33]
    assert [b.frames for b in cfg.assign(256, 256, 100)] == [65]
    assert cfg.assign(256, 256, 20) == []  # too short for 33: skipped, not an image
    assert [b.frames for b in cfg.assign(256, 256, 1)] == [1]


def test_missing_settings_are_reported():
    cfg = bucket_config({}, {"enable_ar_bucket": True, "resolutions": [512]})
    assert [p.kind for p in cfg.problems] == ["ar_settings_missing"]
    assert [p.kind for p in bucket_config({}, {}).problems] == ["resolutions_missing"]


def test_scan_to_buckets_end_to_end(tmp_path):
    from PIL import Image

    for name, (w, h) in {"a.png": (600, 600), "b.jpg": (900, 600), "c.png": (400, 800),
                         "nocap.png": (600, 600)}.items():
        Image.new("RGB", (w, h)).save(tmp_path / name)
        if name != "nocap.png":
            (tmp_path / (name.rsplit(".", 1)[0] + ".txt")).write_text("x")
    dataset = {"resolutions": [512], "enable_ar_bucket": True, "min_ar": 0.5, "max_ar": 2.0,
               "num_ar_buckets": 3}
    scan = scan_directory({"path": str(tmp_path)}, dataset, sizes=True)
    db = directory_buckets(scan, dataset)
    # nocap.png is skipped (no caption); 900x600 -> ar 2 bucket, 400x800 -> ar 0.5
    assert db.skipped == ["nocap.png"]
    assert db.histogram() == {512: {(368, 720): 1, (512, 512): 1, (720, 368): 1}}
    assert db.upscaled == 0
