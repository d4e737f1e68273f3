"""Export to ComfyUI (names, copy/link, metadata, original untouched) and sampling through
ComfyUI's API against a local fake server (incl. a broken workflow and a server that goes away)."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_comfyui import FakeComfy, api_workflow, png_text
from outputs_layout import make_run, safetensors

from dpgui_qt.core.monitor import comfy, export


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


# ------------------------------------------------------------------ export
def test_export_name():
    assert export.export_name("20250101_10-00-00", "flux", 5) == "20250101_10-00-00-flux-e5.safetensors"
    assert export.export_name("my run", "hunyuan-video", 500, "step") == "my_run-hunyuan-video-s500.safetensors"
    assert export.export_name("r", None, 1) == "r-model-e1.safetensors"


def test_copy_writes_metadata_and_keeps_the_original(tmp_path):
    run = make_run(tmp_path / "out", "20250101_10-00-00", checkpoints=(), latest=None)
    src = safetensors(run / "epoch2" / "adapter_model.safetensors", metadata={"format": "pt"},
                      data_bytes=4096 + 5)
    before, mtime = sha(src), src.stat().st_mtime_ns
    loras = tmp_path / "ComfyUI" / "models" / "loras"
    loras.mkdir(parents=True)
    meta = export.run_metadata(run / "main.toml", run.name, "epoch2")
    res = export.export_lora(src, loras, export.export_name(run.name, "flux", 2), "copy", meta)
    assert res.metadata_written and res.path.name == "20250101_10-00-00-flux-e2.safetensors"
    assert sha(src) == before and src.stat().st_mtime_ns == mtime
    h, start = export.read_header(res.path)
    m = h["__metadata__"]
    assert m["format"] == "pt"                         # kept
    assert m["ss_base_model_version"] == "flux" and m["ss_network_dim"] == "32"
    assert m["ss_learning_rate"] == "2e-05" and m["dpgui_run"] == run.name
    assert "# a comment" in m["dpgui_config"]
    assert all(isinstance(v, str) for v in m.values())
    assert (start - 8) % 8 == 0
    # tensor data byte-identical
    h0, s0 = export.read_header(src)
    assert res.path.read_bytes()[start:] == src.read_bytes()[s0:]
    assert {k: v for k, v in h.items() if k != "__metadata__"} == \
        {k: v for k, v in h0.items() if k != "__metadata__"}
    with pytest.raises(FileExistsError):
        export.export_lora(src, loras, res.path.name, "copy", meta)
    assert export.export_lora(src, loras, res.path.name, "copy", meta, overwrite=True).metadata_written


def test_safetensors_reader_rejects_garbage(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 8 + b"{}")
    with pytest.raises(export.SafetensorsError):
        export.read_header(bad)
    bad.write_bytes(b"\x04\x00\x00\x00\x00\x00\x00\x00nope")
    with pytest.raises(export.SafetensorsError):
        export.read_header(bad)
    # a copy of a non-safetensors file still exports, without metadata, with a note
    loras = tmp_path / "loras"
    loras.mkdir()
    r = export.export_lora(bad, loras, "x.safetensors", "copy", {"a": "b"})
    assert not r.metadata_written and "metadata not written" in r.note
    assert (loras / "x.safetensors").read_bytes() == bad.read_bytes()


def test_link_shares_the_original(tmp_path):
    src = safetensors(tmp_path / "a" / "adapter_model.safetensors")
    before = sha(src)
    loras = tmp_path / "loras"
    loras.mkdir()
    r = export.export_lora(src, loras, "x.safetensors", "link")
    assert r.mode in ("hardlink", "symlink") and not r.metadata_written
    assert r.path.read_bytes() == src.read_bytes() and sha(src) == before
    assert export.export_lora(src, loras, "x.safetensors", "link").note == "already exported"
    with pytest.raises(FileNotFoundError):
        export.export_lora(src, tmp_path / "nope", "x.safetensors")


# ------------------------------------------------------------------ workflow
def test_workflow_detection_and_build(tmp_path):
    wf = comfy.load_workflow(api_workflow())
    assert wf.lora_node == "10" and wf.prompt_node == "6" and wf.seed_inputs == [("3", "seed")]
    built = wf.build("dpgui/x.safetensors", "a dog", 7, 0.8)
    assert built["10"]["inputs"]["lora_name"] == "dpgui/x.safetensors"
    assert built["6"]["inputs"]["text"] == "a dog" and built["3"]["inputs"]["seed"] == 7
    assert built["10"]["inputs"]["strength_model"] == 0.8
    assert wf.nodes["6"]["inputs"]["text"] == "a cat"          # the original is untouched
    p = tmp_path / "ui.json"
    p.write_text(json.dumps({"nodes": [], "links": [], "version": 0.4}))
    with pytest.raises(comfy.ComfyError, match="Export \\(API\\)"):
        comfy.load_workflow(p)
    w2 = api_workflow()
    del w2["10"]
    w2["3"]["inputs"]["model"] = ["4", 0]
    with pytest.raises(comfy.ComfyError, match="no LoRA loader"):
        comfy.load_workflow(w2)
    w3 = api_workflow()
    w3["11"] = dict(w3["10"], _meta={"title": "other"})
    w3["10"]["_meta"]["title"] = "style"
    with pytest.raises(comfy.ComfyError, match="2 LoRA loaders"):
        comfy.load_workflow(w3)
    assert comfy.load_workflow(w3, lora_node="11").lora_node == "11"
    p.write_text("{not json")
    with pytest.raises(comfy.ComfyError, match="not JSON"):
        comfy.load_workflow(p)


# ------------------------------------------------------------------ sampling
def _setup(tmp_path, **kw):
    run = make_run(tmp_path / "out", "20250101_10-00-00", epochs=(1, 2), checkpoints=(), latest=None)
    loras = tmp_path / "ComfyUI" / "models" / "loras"
    loras.mkdir(parents=True)
    return run, loras


def test_sample_epochs_through_the_api(tmp_path):
    run, loras = _setup(tmp_path)
    with FakeComfy(run_polls=2) as fake:
        s = comfy.SampleSettings(fake.address, comfy.load_workflow(api_workflow()),
                                 ["a cat", "a dog"], seed=123, loras_dir=loras, poll_s=0.01)
        saves = comfy.complete_saves(run)
        assert [n for n, _w in saves] == ["epoch1", "epoch2"]
        for name, w in saves:
            res = comfy.sample_save(s, run, name, w, "flux")
            assert [r.error for r in res] == [None, None]
    img = run / "dpgui-samples" / "epoch2" / "p1.png"
    assert png_text(img) == ["dpgui/20250101_10-00-00-flux-e2.safetensors", "a dog", 123]
    assert (loras / "dpgui" / "20250101_10-00-00-flux-e2.safetensors").is_file()
    prompts, rows = comfy.SamplesStore(run).grid()
    assert prompts == ["a cat", "a dog"]
    assert [r[0] for r in rows] == ["epoch1", "epoch2"]
    assert all(c["path"] and Path(c["path"]).is_file() for _n, cells in rows for c in cells)
    assert comfy.SamplesStore(run).done() == {"epoch1", "epoch2"}
    assert ("GET", "/object_info/LoraLoader") in fake.requests


def test_missing_node_and_broken_workflow_are_findings(tmp_path):
    run, loras = _setup(tmp_path)
    (name, w), = comfy.complete_saves(run)[:1]
    with FakeComfy(known={"CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler",
                          "VAEDecode", "SaveImage"}) as fake:
        s = comfy.SampleSettings(fake.address, comfy.load_workflow(api_workflow()), ["a"],
                                 loras_dir=loras, poll_s=0.01)
        res = comfy.sample_save(s, run, name, w)
        assert res[0].kind == "missing_node" and "LoraLoader" in res[0].error
    broken = api_workflow()
    broken["3"]["inputs"]["positive"] = ["99", 0]          # a link to a node that is not there
    with FakeComfy() as fake:
        s = comfy.SampleSettings(fake.address, comfy.load_workflow(broken), ["a", "b"],
                                 loras_dir=loras, poll_s=0.01)
        res = comfy.sample_save(s, run, name, w)
        assert [r.kind for r in res] == ["rejected", "rejected"]
        assert "node 3 (KSampler): Required input is missing positive" in res[0].error
    with FakeComfy(fail_execution=True) as fake:
        s = comfy.SampleSettings(fake.address, comfy.load_workflow(api_workflow()), ["a"],
                                 loras_dir=loras, poll_s=0.01)
        res = comfy.sample_save(s, run, name, w)
        assert res[0].kind == "failed" and "FileNotFoundError lora missing" in res[0].error
    prompts, rows = comfy.SamplesStore(run).grid()
    assert rows[0][1][0]["error"] and rows[0][1][0]["file"] is None


def test_server_down_and_server_going_away_mid_run(tmp_path):
    run, loras = _setup(tmp_path)
    (name, w) = comfy.complete_saves(run)[0]
    fake = FakeComfy()
    addr = fake.address
    fake.stop()                                             # nothing listens there now
    s = comfy.SampleSettings(addr, comfy.load_workflow(api_workflow()), ["a", "b"],
                             loras_dir=loras, poll_s=0.01)
    res = comfy.sample_save(s, run, name, w)
    assert [r.kind for r in res] == ["unreachable", "unreachable"]
    assert "not reachable" in res[0].error
    with FakeComfy(run_polls=1000) as fake:
        fake.vanish_after_prompts = 1                       # accepts the first prompt, then dies
        s = comfy.SampleSettings(fake.address, comfy.load_workflow(api_workflow()), ["a", "b", "c"],
                                 loras_dir=loras, poll_s=0.01, timeout_s=20)
        res = comfy.sample_save(s, run, name, w)
    assert res[0].kind == "unreachable" and all(r.error for r in res)
    assert not any(r.file for r in res)


def test_incomplete_saves_are_not_sampled(tmp_path):
    run, _l = _setup(tmp_path)
    (run / "epoch2" / "tmp").mkdir()
    (run / "epoch3").mkdir()
    assert [n for n, _ in comfy.complete_saves(run)] == ["epoch1"]


def test_sampling_metadata_comes_from_the_main_config_copy(tmp_path):
    run, loras = _setup(tmp_path)
    (run / "a_dataset.toml").write_text("[[directory]]\npath = '/x'\n")   # sorts first
    (name, w) = comfy.complete_saves(run)[0]
    with FakeComfy() as fake:
        s = comfy.SampleSettings(fake.address, comfy.load_workflow(api_workflow()), ["a"],
                                 loras_dir=loras, poll_s=0.01)
        res = comfy.sample_save(s, run, name, w)          # model type read from the run
    assert res[0].error is None
    exported = loras / "dpgui" / f"{run.name}-flux-e1.safetensors"
    h, _ = export.read_header(exported)
    assert h["__metadata__"]["ss_base_model_version"] == "flux"
