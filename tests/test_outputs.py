"""Outputs listing, cache staleness, pruning (preview and result), trash and the CLI."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from outputs_layout import GB, make_dataset, make_run, sparse

from dpgui_qt.cli import main
from dpgui_qt.core.monitor import outputs as o
from dpgui_qt.core import trash


@pytest.fixture(autouse=True)
def _home_trash(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def layout(tmp_path):
    d, cfg = make_dataset(tmp_path / "data", model_names=("flux", "sdxl"))
    out = tmp_path / "out"
    a = make_run(out, "20250101_00-00-00", dataset_cfg=cfg)
    b = make_run(out, "20250102_00-00-00", dataset_cfg=cfg, steps=(50,), checkpoints=(10, 20),
                 latest=10, ckpt_size=4 * GB)
    (out / "notarun").mkdir()
    return out, a, b, d, cfg


def test_listing_sizes_latest_config_copies_and_totals(layout):
    out, a, b, d, cfg = layout
    rep = o.scan_outputs(out)
    assert [r.name for r in rep.runs] == [b.name, a.name]          # newest first, not "notarun"
    ra = rep.runs[1]
    assert [s.name for s in ra.saves] == ["epoch1", "epoch2", "epoch3"]
    assert {f.name for f in ra.saves[0].files} == {"adapter_model.safetensors",
                                                   "adapter_config.json", "main.toml"}
    assert ra.saves[0].weights == a / "epoch1" / "adapter_model.safetensors"
    assert [(c.name, c.size, c.is_latest) for c in ra.checkpoints] == [
        ("global_step100", 30 * GB, False), ("global_step200", 30 * GB, False),
        ("global_step300", 30 * GB, True)]
    assert ra.config_copy == a / "main.toml" and ra.dataset_copy == a / "dataset.toml"
    assert ra.model_type == "flux"
    assert ra.checkpoints_size == 90 * GB
    assert ra.size == ra.saves_size + ra.checkpoints_size + ra.other_size
    assert rep.checkpoints_size == 90 * GB + 12 * GB
    rb = rep.runs[0]
    assert [s.name for s in rb.saves] == ["epoch1", "epoch2", "epoch3", "step50"]
    assert [c.is_latest for c in rb.checkpoints] == [True, False]
    j = rep.to_json()
    assert j["totals"]["checkpoints"] == 102 * GB
    assert json.loads(json.dumps(j)) == j


def test_cache_staleness_model_files_and_buckets(layout, tmp_path):
    out, a, b, d, cfg = layout
    rep = o.scan_outputs(out)       # judged against the newest run's copy: flux
    by = {c.model_name: c for c in rep.caches}
    assert by["flux"].stale is False and by["sdxl"].stale is True
    assert "sdxl" in by["sdxl"].reasons[0] and by["sdxl"].size == 3 * GB // 2
    # a caption edited after caching: diffusion-pipe would regenerate the flux cache
    (d / "img1.txt").write_text("new caption")
    c = {c.model_name: c for c in o.scan_outputs(out).caches}["flux"]
    assert c.stale and "changed after" in " ".join(c.reasons)
    # a new resolution / ar setting: old bucket folders are never read again
    os.utime(d / "img1.txt", (1_600_000_000,) * 2)
    main = tmp_path / "main.toml"
    ds2 = tmp_path / "ds2.toml"
    ds2.write_text(f"resolutions = [1024]\nenable_ar_bucket = false\n[[directory]]\npath = '{d}'\n")
    main.write_text(f"output_dir = '{out}'\ndataset = 'ds2.toml'\n[model]\ntype = 'flux'\n")
    c = {c.model_name: c for c in o.scan_outputs(out, main).caches}["flux"]
    assert c.stale is False
    assert [p.name for p in c.unused_buckets] == ["cache_1.000x512x512x1"]
    ds2.write_text(f"resolutions = [512]\nenable_ar_bucket = true\nmin_ar = 0.5\nmax_ar = 2.0\n"
                   f"num_ar_buckets = 3\n[[directory]]\npath = '{d}'\n")
    c = {c.model_name: c for c in o.scan_outputs(out, main).caches}["flux"]
    assert c.unused_buckets == []           # 1.000 is one of geomspace(0.5, 2, 3)
    ds2.write_text(f"resolutions = [512]\nenable_ar_bucket = true\nar_buckets = [[16, 9]]\n"
                   f"[[directory]]\npath = '{d}'\n")
    c = {c.model_name: c for c in o.scan_outputs(out, main).caches}["flux"]
    assert {p.name for p in c.unused_buckets} == {"ar_frames_1.000_1", "cache_1.000x512x512x1"}


def test_model_cache_names_follow_diffusion_pipe():
    assert o.model_cache_names({"model": {"type": "hunyuan_video_15"}}) == {"hunyuan_video_1.5"}
    assert "wan2.2_5b" in o.model_cache_names({"model": {"type": "wan"}})
    assert o.model_cache_names({"model": {"type": "ltx-video", "single_file_path": "/m/ltx-2b.safetensors"}}) \
        == {"ltx-video", "ltx-2b"}


def test_keep_checkpoints_preview_then_apply_to_trash(layout, tmp_path):
    out, a, b, d, cfg = layout
    rep = o.scan_outputs(out)
    plan = o.plan_keep_checkpoints(rep.runs, 1)
    assert sorted(i.path.name for i in plan.items) == ["global_step100"]
    assert plan.freed == 30 * GB
    assert any("named by 'latest'" in k for k in plan.kept)
    res = o.apply_plan(plan)
    assert not res.failed and res.freed == 30 * GB
    assert not (a / "global_step100").exists()
    tr = tmp_path / "xdg" / "Trash"
    assert (tr / "files" / "global_step100" / "mp_rank_00_model_states.pt").stat().st_size == 20 * GB
    info = (tr / "info" / "global_step100.trashinfo").read_text()
    assert info.startswith("[Trash Info]\n") and f"Path={a}/global_step100\n" in info
    assert "DeletionDate=" in info
    # 0 keeps only `latest`; with include_latest nothing of the checkpoints stays
    plan0 = o.plan_keep_checkpoints(o.scan_outputs(out).runs, 0)
    assert {i.path.name for i in plan0.items} == {"global_step200", "global_step20"}
    planall = o.plan_keep_checkpoints(o.scan_outputs(out).runs, 0, include_latest=True)
    assert {i.path.name for i in planall.items} == {"global_step200", "global_step300",
                                                   "global_step20", "global_step10"}


def test_trash_name_clash_gets_a_new_name(tmp_path):
    for _ in range(3):
        f = tmp_path / "x" / "a.bin"
        sparse(f, 10)
        r = trash.move_to_trash(f)
        assert r.trashed_to.exists() and not f.exists()
    names = sorted(p.name for p in (tmp_path / "xdg" / "Trash" / "files").iterdir())
    assert names == ["a.2.bin", "a.3.bin", "a.bin"]
    infos = sorted(p.name for p in (tmp_path / "xdg" / "Trash" / "info").iterdir())
    assert infos == [n + ".trashinfo" for n in names]


def test_trash_percent_encodes_and_keeps_symlinks(tmp_path):
    target = tmp_path / "big"
    sparse(target, GB)
    link = tmp_path / "dir with space" / "link"
    link.parent.mkdir()
    link.symlink_to(target)
    r = trash.move_to_trash(link)
    assert r.trashed_to.is_symlink() and target.exists()        # the target is untouched
    assert "dir%20with%20space/link" in r.info_file.read_text()
    with pytest.raises(trash.TrashError):
        trash.move_to_trash(tmp_path / "missing")


def test_delete_run_and_stale_caches(layout):
    out, a, b, d, cfg = layout
    rep = o.scan_outputs(out)
    plan = o.plan_delete_run(rep.runs[1])
    assert plan.items[0].path == a and plan.freed == rep.runs[1].size
    cplan = o.plan_stale_caches(rep.caches)
    assert [i.path.name for i in cplan.items] == ["sdxl"]
    res = o.apply_plan(cplan)
    assert not (d / "cache" / "sdxl").exists() and (d / "cache" / "flux").exists()
    assert res.freed == 3 * GB // 2
    o.apply_plan(plan)
    assert not a.exists() and b.exists()


def test_apply_refuses_saved_models_even_in_a_forged_plan(layout):
    out, a, b, d, cfg = layout
    plan = o.PrunePlan([o.PruneItem(a / "epoch2", 1, "checkpoint", "forged")])
    res = o.apply_plan(plan)
    assert (a / "epoch2").exists() and res.failed and "never pruned" in res.failed[0][1]


_layouts = st.lists(st.tuples(st.sets(st.integers(1, 30), max_size=5),      # epochs
                              st.sets(st.integers(1, 400), max_size=4),     # steps
                              st.sets(st.integers(1, 5000), max_size=6),    # checkpoints
                              st.booleans()),                              # has latest
                    min_size=1, max_size=3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=_layouts, keep=st.integers(0, 4), include_latest=st.booleans())
def test_pruning_never_removes_a_saved_epoch(tmp_path_factory, runs, keep, include_latest):
    out = tmp_path_factory.mktemp("out")
    os.environ["XDG_DATA_HOME"] = str(out / ".xdg")
    saved_before = {}
    for n, (epochs, steps, ckpts, has_latest) in enumerate(runs):
        latest = max(ckpts) if ckpts and has_latest else None
        r = make_run(out, f"2025010{n + 1}_00-00-00", epochs=sorted(epochs), steps=sorted(steps),
                     checkpoints=sorted(ckpts), latest=latest, ckpt_size=1 << 20)
        for p in r.iterdir():
            if p.name.startswith(("epoch", "step")):
                saved_before[p] = sorted(x.name for x in p.iterdir())
    rep = o.scan_outputs(out)
    plan = o.plan_keep_checkpoints(rep.runs, keep, include_latest)
    assert all(i.path.name.startswith("global_step") for i in plan.items)
    o.apply_plan(plan)
    for p, files in saved_before.items():
        assert p.is_dir() and sorted(x.name for x in p.iterdir()) == files
    for r in o.scan_outputs(out).runs:
        left = sorted(c.step for c in r.checkpoints)
        non_latest = [s for s in left if f"global_step{s}" != r.latest_tag]
        assert len(non_latest) <= keep
        if r.latest_tag and not include_latest:
            assert r.latest_tag in {c.name for c in r.checkpoints}


def test_cli_outputs_json_and_text(layout, capsys):
    out, a, b, d, cfg = layout
    assert main(["outputs", str(out), "--json"]) == 0
    j = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in j["runs"]] == [b.name, a.name]
    assert j["runs"][1]["checkpoints"][2] == {"name": "global_step300", "step": 300, "size": 30 * GB,
                                              "latest": True, "path": str(a / "global_step300")}
    assert main(["outputs", str(out)]) == 0
    text = capsys.readouterr().out
    assert "global_step300" in text and "<- latest" in text and "STALE" in text
    assert main(["outputs", str(out / "missing")]) == 2


def test_cli_prune_dry_run_changes_nothing_then_prunes(layout, capsys):
    out, a, b, d, cfg = layout
    before = sorted(p.name for p in a.iterdir())
    assert main(["prune", str(out), "--keep-checkpoints", "1", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "would remove" in text and "global_step100" in text and "30.0 GB" in text
    assert sorted(p.name for p in a.iterdir()) == before
    assert main(["prune", str(out), "--keep-checkpoints", "1", "--json"]) == 0
    j = json.loads(capsys.readouterr().out)
    assert j["removed"] == [str(a / "global_step100")] and j["freed"] == 30 * GB
    assert main(["prune", str(out)]) == 2
    assert main(["prune", str(out), "--keep-checkpoints", "-1"]) == 2


def test_trash_on_another_mount_uses_its_own_trash(tmp_path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK) or \
            os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second writable file system here")
    import secrets
    import shutil
    work = shm / f"dpgui-test-{secrets.token_hex(4)}"
    top_trash = shm / f".Trash-{os.getuid()}"
    existed = top_trash.exists()
    try:
        f = sparse(work / "global_step5" / "x.pt", 5 * GB)
        trash_dir, top = trash.trash_dir_for(f.parent)
        assert top == shm and trash_dir == top_trash
        r = trash.move_to_trash(f.parent)
        assert r.trashed_to.parent == top_trash / "files" and not f.parent.exists()
        info = r.info_file.read_text()
        assert f"Path={work.name}/global_step5\n" in info          # relative to the mount
        assert oct(top_trash.stat().st_mode & 0o777) == "0o700"
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not existed:
            shutil.rmtree(top_trash, ignore_errors=True)
        else:
            for p in list((top_trash / "files").glob("global_step5*")) + \
                    list((top_trash / "info").glob("global_step5*")):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()


def test_fifos_and_link_loops_never_block_or_recurse(layout, tmp_path):
    out, a, b, d, cfg = layout
    os.mkfifo(a / "trap.toml")
    os.mkfifo(a / "epoch1" / "pipe")
    (a / "loop").symlink_to(a)
    os.mkfifo(tmp_path / "wf.json")
    rep = o.scan_outputs(out)            # would hang on open() of a FIFO
    ra = next(r for r in rep.runs if r.name == a.name)
    assert ra.config_copy == a / "main.toml" and ra.checkpoints_size == 90 * GB
    from dpgui_qt.core.monitor import comfy, export
    with pytest.raises(comfy.ComfyError, match="not a regular file"):
        comfy.load_workflow(tmp_path / "wf.json")
    with pytest.raises(export.SafetensorsError):
        export.read_header(a / "epoch1" / "pipe")


def test_relative_dataset_paths_resolve_like_diffusion_pipe(layout, tmp_path, monkeypatch):
    out, a, b, d, cfg = layout
    co = tmp_path / "diffusion-pipe"
    (co / "examples").mkdir(parents=True)
    (co / "train.py").write_text("")
    monkeypatch.setenv("DPGUI_DIFFUSION_PIPE", str(co))
    (co / "examples" / "ds.toml").write_text(f"resolutions = [512]\n[[directory]]\npath = '{d}'\n")
    main_cfg = co / "examples" / "main.toml"
    main_cfg.write_text("dataset = 'examples/ds.toml'\n[model]\ntype = 'sdxl'\n")
    rep = o.scan_outputs(out, main_cfg)       # relative to the checkout, not the config's folder
    by = {c.model_name: c.stale for c in rep.caches}
    assert by == {"flux": True, "sdxl": False}
    rep = o.scan_outputs(out, main_cfg, base=co)
    assert {c.model_name: c.stale for c in rep.caches} == by
