"""LogParser (dpgui_qt.core.run.parse) on the real corpus and on synthetic streams."""
from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from dpgui_qt.core.run.lines import LineAssembler
from dpgui_qt.core.run.parse import (
    CachingEvent,
    CacheEvent,
    CheckpointEvent,
    CompleteEvent,
    ComputedEvent,
    DeepSpeedVersionEvent,
    EpochEvent,
    ErrorEvent,
    ExitCodeEvent,
    GlobalBatchEvent,
    InterruptEvent,
    LogParser,
    LrEvent,
    ProgressEvent,
    ResumeEvent,
    SaveEvent,
    StepEvent,
    SubprocessKilledEvent,
    TracebackEvent,
    event_to_dict,
    parse_bytes,
    parse_lines,
    parse_text,
)
from dpgui_qt.core.run.summary import summarize

from logs_expected import EXPECTED, NAN

LOG_NAMES = sorted(EXPECTED)


def dicts(events) -> list[dict]:
    return [event_to_dict(e) for e in events]


def of(events, cls) -> list:
    return [e for e in events if type(e) is cls]


def parse_chunked(data: bytes, rnd: random.Random, max_len: int) -> list:
    asm, parser, events = LineAssembler(), LogParser(), []
    i = 0
    while i < len(data):
        n = rnd.randint(1, max_len)
        events += parser.feed_lines(asm.feed(data[i:i + n]))
        i += n
    events += parser.feed_lines(asm.flush())
    events += parser.finish()
    return events


def loss_eq(got: float, want) -> bool:
    return math.isnan(got) if want == NAN else got == pytest.approx(want)


# ---------------------------------------------------------------------------
# corpus
# ---------------------------------------------------------------------------
def test_every_corpus_log_has_expectations(corpus_logs):
    on_disk = sorted(p.name for p in corpus_logs.glob("*.log"))
    assert on_disk == LOG_NAMES


@pytest.mark.parametrize("name", LOG_NAMES)
def test_corpus_log_events(corpus_logs, name):
    exp = EXPECTED[name]
    events = parse_bytes((corpus_logs / name).read_bytes())
    assert dict(Counter(e.TYPE for e in events)) == exp["counts"]

    if "steps" in exp:
        got = [(e.step, e.loss, e.iter_time, e.samples_per_sec) for e in of(events, StepEvent)]
        assert [g[0] for g in got] == [w[0] for w in exp["steps"]]
        for g, w in zip(got, exp["steps"]):
            assert loss_eq(g[1], w[1]), (g, w)
            assert g[2] == pytest.approx(w[2]) and g[3] == pytest.approx(w[3])
    if "lrs" in exp:
        assert [(e.step, e.lrs) for e in of(events, LrEvent)] == exp["lrs"]
        assert all(e.rank == 0 and e.skipped == 0 for e in of(events, LrEvent))
    if "progress" in exp:
        got = [(e.desc, e.n, e.total, e.percent) for e in of(events, ProgressEvent)]
        assert got == exp["progress"]
    if "errors" in exp:
        assert [(e.kind, e.rank) for e in of(events, ErrorEvent)] == exp["errors"]
    if "tracebacks" in exp:
        tbs = of(events, TracebackEvent)
        assert len(tbs) == len(exp["tracebacks"])
        for tb, w in zip(tbs, exp["tracebacks"]):
            assert tb.rank == w["rank"]
            assert tb.exception == w["exception"]
            assert tb.line == w["line"] and tb.function == w["function"]
            assert tb.file.endswith(w["file_endswith"]), tb.file
            assert tb.frames == w["frames"]
    if "exit_codes" in exp:
        assert [(e.rc, e.rank) for e in of(events, ExitCodeEvent)] == exp["exit_codes"]
    if "killed" in exp:
        assert [e.pid for e in of(events, SubprocessKilledEvent)] == exp["killed"]
    if "global_batch" in exp:
        assert [e.n for e in of(events, GlobalBatchEvent)] == exp["global_batch"]
    if "deepspeed_version" in exp:
        assert of(events, DeepSpeedVersionEvent)[0].version == exp["deepspeed_version"]
    caching = [(e.what, e.which) for e in of(events, CachingEvent)]
    if "caching_first" in exp:
        assert caching[0] == exp["caching_first"]
    if "caching_last" in exp:
        assert caching[-1] == exp["caching_last"]
    if "caching_all" in exp:
        assert caching == exp["caching_all"]
    for item in exp.get("caching_contains", []):
        assert item in caching
    if "cache" in exp:
        assert [e.message for e in of(events, CacheEvent)] == exp["cache"]


@pytest.mark.parametrize("name", LOG_NAMES)
def test_corpus_log_random_chunking_gives_identical_events(corpus_logs, name):
    data = (corpus_logs / name).read_bytes()
    whole = dicts(parse_bytes(data))
    for seed in range(5):
        rnd = random.Random(seed * 7919 + len(name))
        assert dicts(parse_chunked(data, rnd, max_len=rnd.choice([1, 3, 17, 200]))) == whole


@pytest.mark.parametrize("name", LOG_NAMES)
def test_corpus_feed_and_feed_many_agree(corpus_logs, name):
    lines = (corpus_logs / name).read_text("utf-8", "replace").split("\n")
    a = LogParser()
    one_by_one = [e for line in lines for e in a.feed(line)] + a.finish()
    b = LogParser()
    assert dicts(b.feed_many(lines) + b.finish()) == dicts(one_by_one)
    assert dicts(parse_lines(lines)) == dicts(one_by_one)


# ---------------------------------------------------------------------------
# synthetic streams
# ---------------------------------------------------------------------------
TS = "[2025-09-04 15:18:01,200]"


def test_step_line_variants():
    ev = parse_lines([
        "steps: 1 loss: 0.0614 iter time (s): 531.283 samples/sec: 0.008",
        "steps: 2 loss: nan iter time (s): 3.235 samples/sec: 0.309",
        "steps: 3 loss: inf iter time (s): 3.0 samples/sec: 0.3",
        "steps: 4 loss: 0.5000 moe_loss: 0.0100 aux/l2: nan iter time (s): 1.000 samples/sec: 2.000",
        "steps: 5 loss: 1.2e-03 iter time (s): 1.000 samples/sec: 2.000   ",
        "steps: x loss: 0.1 iter time (s): 1 samples/sec: 1",  # not a step line
    ])
    steps = of(ev, StepEvent)
    assert [e.step for e in steps] == [1, 2, 3, 4, 5]
    assert math.isnan(steps[1].loss) and math.isinf(steps[2].loss)
    assert steps[3].losses["moe_loss"] == 0.01 and math.isnan(steps[3].losses["aux/l2"])
    assert steps[0].losses == {} and steps[4].loss == pytest.approx(0.0012)
    assert (steps[0].iter_time, steps[0].samples_per_sec) == (531.283, 0.008)


def test_lr_line_any_logger_location_and_lr_shapes():
    ev = parse_lines([
        f"{TS} [INFO] [logging.py:107:log_dist] [Rank 0] step=1, skipped=0, lr=[1.5968e-07], mom=[0.0]",
        f"{TS} [INFO] [logging.py:9999:some_new_name] [Rank 0] step=2, skipped=1, "
        "lr=[2e-05, 1e-05], mom=[(0.9, 0.99), (0.9, 0.99)]",
        f"{TS} [INFO] [[logging.py:128](http://logging.py:128/):log_dist] [Rank 0] step=3, "
        "skipped=0, lr=[3e-05], mom=[0.0]",
        f"{TS} [INFO] [train.py:707:train] [Rank 0] step=4, skipped=0, lr=4e-05, mom=0.9",
        f"{TS} [INFO] [logging.py:123:log_dist] [Rank -1] step=5, skipped=0, lr=[5e-05], mom=[0.0]",
    ])
    lrs = of(ev, LrEvent)
    assert [(e.step, e.skipped, e.lrs, e.rank) for e in lrs] == [
        (1, 0, [1.5968e-07], 0), (2, 1, [2e-05, 1e-05], 0), (3, 0, [3e-05], 0),
        (4, 0, [4e-05], 0), (5, 0, [5e-05], -1)]
    assert lrs[1].mom == "[(0.9, 0.99), (0.9, 0.99)]"


def test_diffusion_pipe_prints():
    ev = parse_lines([
        "Global batch size = 8", "Computed save_every_n_steps = 50", "Computed beta2 = 0.995",
        "Resuming training from checkpoint. Resuming at epoch: 3, step: 120",
        "Running eval", "Saving model to directory epoch5", "Saving model to directory step500",
        "Started new epoch: 6", "Manually quitting", "TRAINING COMPLETE!",
        f"{TS} [INFO] [logging.py:123:log_dist] [Rank 0] DeepSpeed info: version=0.18.4, "
        "git-hash=unknown, git-branch=unknown",
        f"{TS} [INFO] [torch_checkpoint_engine.py:27:create] [Rank 0] [Torch] Checkpoint "
        "global_step500 is about to be saved!",
        "caching latents: (1.0, 81)", "caching metadata", "[CACHE] Initializing",
        "Saving model to directory tmp",  # not a save
        "Running evaluation of something else",  # not an eval
    ])
    assert [e.TYPE for e in ev] == [
        "global_batch", "computed", "computed", "resume", "eval", "save", "save", "epoch",
        "manual_quit", "complete", "deepspeed_version", "checkpoint", "caching", "caching", "cache"]
    assert of(ev, ComputedEvent) == [ComputedEvent("save_every_n_steps", 50),
                                     ComputedEvent("beta2", 0.995)]
    assert of(ev, ResumeEvent) == [ResumeEvent(3, 120)]
    assert [e.name for e in of(ev, SaveEvent)] == ["epoch5", "step500"]
    assert of(ev, EpochEvent) == [EpochEvent(6)]
    assert of(ev, CheckpointEvent) == [CheckpointEvent("global_step500")]
    assert of(ev, DeepSpeedVersionEvent) == [DeepSpeedVersionEvent("0.18.4")]
    assert of(ev, CachingEvent)[0] == CachingEvent("latents", "(1.0, 81)")


def test_launcher_end_lines():
    ev = parse_lines([
        f"{TS} [INFO] [launch.py:351:main] Process 4242 exits successfully.",
        f"{TS} [INFO] [launch.py:319:sigkill_handler] Killing subprocess 4243",
        f"{TS} [ERROR] [launch.py:325:sigkill_handler] ['/usr/bin/python', '-u', 'train.py', "
        "'--local_rank=1', '--deepspeed', '--config', 'x.toml'] exits with return code = -9",
        f"{TS} [INFO] [launch.py:336:sigkill_handler] Main process received SIGINT, exiting",
    ])
    assert of(ev, ExitCodeEvent) == [ExitCodeEvent(0, None, 4242), ExitCodeEvent(-9, 1)]
    assert of(ev, SubprocessKilledEvent) == [SubprocessKilledEvent(4243)]
    assert of(ev, InterruptEvent) == [InterruptEvent("SIGINT")]


def test_prefixes_quote_rank_and_ansi():
    ev = parse_lines([
        "> steps: 1 loss: 0.5 iter time (s): 1.0 samples/sec: 2.0",
        "> > TRAINING COMPLETE!",
        "\x1b[32msteps: 2 loss: 0.4 iter time (s): 1.0 samples/sec: 2.0\x1b[0m",
        "'" + TS + " [INFO] [logging.py:107:log_dist] [Rank 0] step=3, skipped=0, lr=[1e-06], mom=[0.0]",
        "[rank0]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.",
    ])
    assert [e.TYPE for e in ev] == ["step", "complete", "step", "lr", "error"]
    assert of(ev, ErrorEvent)[0].kind == "cuda_oom" and of(ev, ErrorEvent)[0].rank == 0


def test_interleaved_rank_tracebacks_are_kept_apart():
    ev = parse_lines([
        "[rank1]: Traceback (most recent call last):",
        "[rank0]: Traceback (most recent call last):",
        '[rank1]:   File "/dp/train.py", line 540, in <module>',
        '[rank0]:   File "/dp/train.py", line 540, in <module>',
        "[rank1]:     loss = model_engine.train_batch().item()",
        '[rank0]:   File "/dp/models/wan.py", line 99, in forward',
        "[rank0]:     x = attn(x)",
        "[rank0]:         ^^^^^^^",
        f"{TS} [INFO] [launch.py:319:sigkill_handler] Killing subprocess 7",  # other process
        "[rank0]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.00 GiB",
        "[rank1]: RuntimeError: NCCL error in: ../torch/csrc/distributed/c10d/NCCLUtils.hpp",
    ])
    tbs = of(ev, TracebackEvent)
    assert [(t.rank, t.file, t.line, t.function, t.frames, t.exc_type) for t in tbs] == [
        (0, "/dp/models/wan.py", 99, "forward", 2, "torch.OutOfMemoryError"),
        (1, "/dp/train.py", 540, "<module>", 1, "RuntimeError")]
    assert tbs[0].message.startswith("CUDA out of memory")
    assert [(e.kind, e.rank) for e in of(ev, ErrorEvent)] == [("cuda_oom", 0), ("nccl", 1)]
    assert of(ev, SubprocessKilledEvent) == [SubprocessKilledEvent(7)]


def test_plain_traceback_and_chained_exception():
    ev = parse_lines([
        "Traceback (most recent call last):",
        '  File "/dp/utils/dataset.py", line 1300, in __init__',
        "    raise RuntimeError(",
        "RuntimeError: Processed dataset was empty. Probably caused by rounding down for each size bucket.",
        "Try decreasing the global batch size, or increasing num_repeats.",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "/dp/train.py", line 10, in <module>',
        "    main()",
        "KeyboardInterrupt",
    ])
    tbs = of(ev, TracebackEvent)
    assert [(t.function, t.exc_type) for t in tbs] == [("__init__", "RuntimeError"),
                                                       ("<module>", "KeyboardInterrupt")]
    assert [e.kind for e in of(ev, ErrorEvent)] == ["empty_dataset"]


def test_unfinished_traceback_is_reported_by_finish():
    p = LogParser()
    assert p.feed("Traceback (most recent call last):") == []
    assert p.feed('  File "/dp/train.py", line 5, in <module>') == []
    tb = p.finish()
    assert len(tb) == 1 and tb[0].exception is None and tb[0].line == 5
    assert p.finish() == []


def test_known_error_phrases():
    lines = {
        "RuntimeError: CUDA error: no kernel image is available for execution on the device": "cuda_arch",
        "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current "
        "PyTorch installation.": "cuda_arch",
        "ModuleNotFoundError: No module named 'flash_attn'": "flash_attn",
        "RuntimeError: shape '[1, 16, 21, 60, 104]' is invalid for input of size 2096640": "shape_mismatch",
        "\tsize mismatch for blocks.0.weight: copying a param with shape torch.Size([1]) from "
        "checkpoint": "shape_mismatch",
        'RuntimeError: Error(s) in loading state_dict for AutoencoderKL:': "state_dict_mismatch",
        "[rank0]:[E1203 10:00:00.000000000 ProcessGroupNCCL.cpp:616] [Rank 0] Watchdog caught "
        "collective operation timeout: WorkNCCL(SeqNum=5, OpType=ALLREDUCE) ran for 1800039 "
        "milliseconds before timing out.": "nccl",
        "WARNING: You have set a lot of resolutions in the dataset config. Please read the comments": "too_many_resolutions",
        "video with frames=12 is being skipped because it is too short": "video_too_short",
        "OSError: [Errno 28] No space left on device": "disk_full",
    }
    for line, kind in lines.items():
        ev = of(parse_lines([line]), ErrorEvent)
        assert [e.kind for e in ev] == [kind], line
    assert of(parse_lines(["video with frames=3 is being skipped because it is too short"]),
              ErrorEvent)[0].severity == "warning"
    # the harmless shutdown warning is not an NCCL error
    harmless = ("[rank0]:[W103 16:16:49.752700209 ProcessGroupNCCL.cpp:1168] Warning: WARNING: "
                "process group has NOT been destroyed before we destruct ProcessGroupNCCL.")
    assert parse_lines([harmless]) == []


def test_degraded_collapsed_newlines():
    line = ("steps: 1 loss: 0.0614 iter time (s): 531.283 samples/sec: 0.008 "
            f"{TS} [INFO] [logging.py:107:log_dist] [Rank 0] step=2, skipped=0, lr=[2e-07], mom=[0.0] "
            "steps: 2 loss: 0.0571 iter time (s): 532.811 samples/sec: 0.008 "
            "Saving model to directory step2 TRAINING COMPLETE!")
    ev = parse_lines([line])
    assert [e.TYPE for e in ev] == ["step", "lr", "step", "save", "complete"]
    assert [e.step for e in of(ev, StepEvent)] == [1, 2]
    # short collapsed step lines too
    ev = parse_lines(["steps: 7 loss: 0.1 iter time (s): 1.0 samples/sec: 2.0 steps: 8 loss: nan "
                      "iter time (s): 1.0 samples/sec: 2.0"])
    assert [e.step for e in of(ev, StepEvent)] == [7, 8]


def test_flattened_bars_and_glued_prints():
    ev = parse_lines([
        "Map: 100%|██| 2/2 [00:00<00:00, 10.0 examples/s]Map (num_proc=2):  50%|█ | 1/2 "
        "[00:01<00:01,  1.31s/ examples]caching latents: (512, 512, 1)",
        "caching latents: (704, 704, 81)WARNING:datasets.arrow_dataset:num_proc must be <= 1.",
        "100%|██████████| 62/62 [01:02<00:00,  1.00it/s]",
        "Adding size bucket:   3%|▎         | 3/100 [00:00<00:03, 30.00it/s]",
    ])
    assert [(e.desc, e.n, e.total, e.percent) for e in of(ev, ProgressEvent)] == [
        ("Map", 2, 2, 100), ("Map (num_proc=2)", 1, 2, 50), ("", 62, 62, 100),
        ("Adding size bucket", 3, 100, 3)]
    assert of(ev, ProgressEvent)[1].rate == "1.31s/ examples"
    assert [(e.what, e.which) for e in of(ev, CachingEvent)] == [
        ("latents", "(512, 512, 1)"), ("latents", "(704, 704, 81)")]


def test_bytes_stream_with_cr_bars_rank_prefix_and_split_utf8():
    stream = (
        "Running eval\n"
        "\r  0%|          | 0/3 [00:00<?, ?it/s]\r 33%|███▎      | 1/3 [00:01<00:02,  1.00it/s]"
        "\r100%|██████████| 3/3 [00:03<00:00,  1.00it/s]\n"
        f"{TS} [INFO] [logging.py:107:log_dist] [Rank 0] step=1, skipped=0, lr=[1e-06], mom=[0.0]\r\n"
        "steps: 1 loss: 0.25 iter time (s): 2.000 samples/sec: 0.500\n"
        "[rank0]: Traceback (most recent call last):\n"
        '[rank0]:   File "/dp/ünïcödé/train.py", line 3, in <module>\n'
        "[rank0]: AssertionError\n"
    ).encode()
    want = dicts(parse_bytes(stream))
    assert [e["type"] for e in want] == ["eval", "progress", "progress", "progress", "lr", "step",
                                         "traceback"]
    assert want[6]["file"] == "/dp/ünïcödé/train.py" and want[6]["exc_type"] == "AssertionError"
    for split in range(1, len(stream)):  # every single cut position
        asm, p = LineAssembler(), LogParser()
        got = p.feed_lines(asm.feed(stream[:split])) + p.feed_lines(asm.feed(stream[split:]))
        got += p.feed_lines(asm.flush()) + p.finish()
        assert dicts(got) == want, split
    assert dicts(parse_text(stream.decode())) == want


def test_summarize():
    ev = parse_lines([
        "Global batch size = 4",
        f"{TS} [INFO] [logging.py:107:log_dist] [Rank 0] step=1, skipped=0, lr=[1e-05], mom=[0.0]",
        "steps: 1 loss: 0.5 iter time (s): 2.0 samples/sec: 2.0",
        "Started new epoch: 2",
        "Saving model to directory epoch1",
        "steps: 2 loss: nan iter time (s): 2.0 samples/sec: 2.0",
        "steps: 3 loss: 0.25 iter time (s): 1.0 samples/sec: 4.0",
        "TRAINING COMPLETE!",
    ])
    s = summarize(ev)
    assert (s["steps_logged"], s["first_step"], s["last_step"]) == (3, 1, 3)
    assert (s["first_loss"], s["last_loss"], s["min_loss"]) == (0.5, 0.25, 0.25)
    assert (s["nonfinite_loss_steps"], s["first_nonfinite_step"]) == (1, 2)
    assert s["last_lr"] == [1e-05] and s["epoch"] == 2 and s["saves"] == ["epoch1"]
    assert s["global_batch_size"] == 4 and s["last_samples_per_sec"] == 4.0
    assert s["outcome"]["status"] == "finished"
    assert summarize([])["last_step"] is None and summarize([])["epoch"] is None


def test_event_json_has_type_and_no_bare_nan():
    import json
    ev = parse_lines(["steps: 2 loss: nan iter time (s): 1.0 samples/sec: 1.0"])
    d = event_to_dict(ev[0])
    assert d["type"] == "step" and d["loss"] == "nan"
    json.dumps(d, allow_nan=False)


def test_feed_accepts_line_objects_and_skips_partial():
    from dpgui_qt.core.run.lines import Line, LineKind
    p = LogParser()
    assert p.feed(Line("TRAINING COMPLETE!", LineKind.PARTIAL)) == []
    assert p.feed(Line("TRAINING COMPLETE!", LineKind.CR)) == [CompleteEvent()]
    assert p.feed("Started new epoch: 2") == [EpochEvent(2)]
