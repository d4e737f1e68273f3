"""Steps-per-epoch estimates for a few batch / GPU combinations, worked by hand."""
from __future__ import annotations

from dpgui_qt.core.dataset.buckets import directory_buckets
from dpgui_qt.core.dataset.estimate import estimate, estimate_scan
from dpgui_qt.core.dataset.scan import DatasetScan, DirectoryScan, directory_settings

AR3 = {"resolutions": [512], "enable_ar_bucket": True, "min_ar": 0.5, "max_ar": 2.0,
       "num_ar_buckets": 3}


def fake_scan(path, n_square, n_wide, dir_cfg=None, dataset=AR3) -> DirectoryScan:
    s = DirectoryScan(path=path, settings=directory_settings(dir_cfg or {}, dataset))
    sizes = {f"s{i}.png": (1024, 1024) for i in range(n_square)}
    sizes.update({f"w{i}.png": (1536, 1024) for i in range(n_wide)})
    s.images = sorted(sizes)
    s.sizes = sizes
    s.sizes_read = True
    return s


def run(main, gpus, *scans, dataset=AR3):
    dbs = [directory_buckets(s, dataset) for s in scans]
    return estimate(dataset, main, gpus, dbs)


def kinds(est):
    return {p.kind: p for p in est.problems}


def test_batch_one():
    # 10 square -> 512x512, 3 wide (ar 1.5) -> 720x368; global batch 1 -> 10 + 3 steps
    e = run({}, 1, fake_scan("/a", 10, 3))
    assert e.global_batch == 1 and e.steps_per_epoch == 13 and e.items_per_epoch == 13
    assert e.directories[0].items_per_epoch == 13 and e.directories[0].files == 13
    assert not e.approximate and e.problems == []


def test_batch_four_drops_small_bucket():
    # gb = 2 x 2 x 1 = 4: 10 // 4 = 2 steps (2 items cut), 3 < 4 -> wide bucket dropped
    e = run({"micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 2}, 1,
            fake_scan("/a", 10, 3))
    assert e.global_batch == 4 and e.steps_per_epoch == 2 and e.dropped_items == 2 + 3
    k = kinds(e)
    assert "720x368" in k["bucket_smaller_than_batch"].message
    assert k["bucket_remainder_dropped"].severity == "info"


def test_gpus_and_pipeline_stages():
    # 4 GPUs / 2 stages -> data parallel 2 -> gb = 1 x 1 x 2 = 2: 10 // 2 + 3 // 2 = 5 + 1
    e = run({"pipeline_stages": 2}, 4, fake_scan("/a", 10, 3))
    assert e.data_parallel == 2 and e.global_batch == 2 and e.steps_per_epoch == 6
    # 3 GPUs cannot be split into 2 stages
    assert "gpus_not_divisible_by_stages" in kinds(run({"pipeline_stages": 2}, 3,
                                                       fake_scan("/a", 10, 3)))


def test_processed_dataset_was_empty():
    # gb = 4 x 4 x 1 = 16 > 10 and > 3: every bucket dropped
    e = run({"micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": 4}, 1,
            fake_scan("/a", 10, 3))
    assert e.steps_per_epoch == 0
    k = kinds(e)
    assert k["dataset_not_empty_after_batching"].severity == "error"
    assert k["directory_smaller_than_batch"].severity == "warning"  # 13 < 16


def test_fractional_repeats_truncate_per_bucket():
    # repeats 2.5: int(10 * 2.5) = 25, int(3 * 2.5) = 7; gb 4 -> 6 + 1 = 7 steps
    e = run({"micro_batch_size_per_gpu": 4}, 1, fake_scan("/a", 10, 3, {"num_repeats": 2.5}))
    assert e.items_per_epoch == 32 and e.steps_per_epoch == 7
    assert e.directories[0].num_repeats == 2.5


def test_directories_share_buckets():
    # gb 4: /a has 10 square, /b 3 square: merged 13 // 4 = 3 (separately it would be 2 + 0)
    e = run({"micro_batch_size_per_gpu": 4}, 1, fake_scan("/a", 10, 0), fake_scan("/b", 3, 0))
    assert len(e.buckets) == 1 and e.buckets[0].items == 13 and e.steps_per_epoch == 3
    assert e.buckets[0].directories == ["/a", "/b"]
    assert "directory_smaller_than_batch" in kinds(e)  # /b alone has 3 < 4


def test_subsample_ratio():
    # 13 steps x 0.5 = 6.5 -> 6
    e = run({}, 1, fake_scan("/a", 10, 3), dataset=dict(AR3, subsample_ratio=0.5))
    assert e.steps_before_subsample == 13 and e.steps_per_epoch == 6


def test_per_size_micro_batch_and_multiple_resolutions():
    ds = {"resolutions": [512, 1024]}
    # each of 8 images is trained at 512 and 1024: two buckets of 8 items.
    # micro batch by size: 512x512 -> 4, 1024x1024 -> 1; gas 2, 1 GPU:
    # gb 8 -> 1 step, gb 2 -> 4 steps
    main = {"micro_batch_size_per_gpu": [[512, 4], [1024, 1]], "gradient_accumulation_steps": 2}
    e = run(main, 1, fake_scan("/a", 8, 0, dataset=ds), dataset=ds)
    gbs = {(b.width, b.global_batch, b.batches) for b in e.buckets}
    assert gbs == {(512, 8, 1), (1024, 2, 4)}
    assert e.steps_per_epoch == 5 and e.directories[0].resolutions == 2
    assert e.directories[0].items_per_epoch == 16


def test_image_micro_batch_applies_to_image_buckets():
    e = run({"micro_batch_size_per_gpu": 1, "image_micro_batch_size_per_gpu": 5}, 1,
            fake_scan("/a", 10, 0))
    assert e.buckets[0].global_batch == 5 and e.steps_per_epoch == 2


def test_cache_shuffle_num_multiplies_items():
    # 3 caption variants per file: 10 x 3 = 30 items, gb 4 -> 7 steps
    e = run({"micro_batch_size_per_gpu": 4}, 1,
            fake_scan("/a", 10, 0, {"cache_shuffle_num": 3}))
    assert e.items_per_epoch == 30 and e.steps_per_epoch == 7


def test_estimate_without_sizes_is_approximate():
    s = DirectoryScan(path="/a", settings=directory_settings({}, AR3))
    s.images = [f"{i}.png" for i in range(9)]
    e = estimate_scan(DatasetScan([s]), AR3, {"micro_batch_size_per_gpu": 2}, 1)
    # all assumed square: 9 // 2 = 4
    assert e.approximate and e.steps_per_epoch == 4


def test_invalid_batch_settings():
    e = run({"micro_batch_size_per_gpu": 0}, 1, fake_scan("/a", 4, 0))
    assert "batch_size_invalid" in kinds(e)
