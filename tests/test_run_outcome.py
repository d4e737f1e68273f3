"""Outcome classification (dpgui_qt.core.run.outcome) and ``dpgui parse-log``."""
from __future__ import annotations

import json

import pytest

from dpgui_qt import cli
from dpgui_qt.core.run.outcome import Outcome, classify, classify_text
from dpgui_qt.core.run.parse import parse_bytes, parse_lines

from logs_expected import EXPECTED

TS = "[2026-01-28 09:07:29,344]"
STEP = "steps: {n} loss: 0.1000 iter time (s): 1.000 samples/sec: 1.000"
COMPLETE = "TRAINING COMPLETE!"
EXIT = (TS + " [ERROR] [launch.py:325:sigkill_handler] ['python', '-u', 'train.py', "
        "'--local_rank=0', '--deepspeed', '--config', 'c.toml'] exits with return code = {rc}")


def outcome(lines, exit_code=None, **kw) -> Outcome:
    return classify(parse_lines(lines), exit_code, **kw)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_outcomes(corpus_logs, name):
    o = classify(parse_bytes((corpus_logs / name).read_bytes()))
    assert (o.status, o.kind) == EXPECTED[name]["outcome"]
    if o.status == "failed":
        assert o.title and o.explanation and o.fix and o.evidence


def test_corpus_outcome_evidence(corpus_logs):
    def get(name):
        return classify(parse_bytes((corpus_logs / name).read_bytes()))

    o = get("dp-issue153_oom_two_ranks.log")
    assert "Tried to allocate 1.68 GiB" in o.evidence[0] and "blocks_to_swap" in o.fix
    o = get("dp-issue23_indentation_error_import.log")
    assert any("utils/saver.py, line 161" in e for e in o.evidence)
    assert "Indentat" in o.explanation
    o = get("dp-issue538_eval_oom_rank0_traceback.log")
    assert o.evidence == ["/home/user/miniconda3/envs/diffusion-pipe-3.13-torch-2.13/lib/"
                          "python3.13/site-packages/torch/utils/checkpoint.py, line 522, in checkpoint"]
    o = get("dp-issue235_nccl_watchdog_pipeline2.log")
    assert "NCCL_P2P_DISABLE=1" in o.fix and "watchdog" in o.evidence[0]
    o = get("dp-issue159_resume_no_latest_file.log")
    assert "latest" in o.fix and "/latest" in o.evidence[0]
    o = get("dp-issue78_sigkill_linkified_flattened_bars.log")
    assert "map_num_proc" in o.fix and o.evidence == ["Killing subprocess 11560"]
    o = get("dp-issue531_ltx2_loss_nan.log")
    assert "18" in o.title and o.notices == []  # the nan finding is the outcome itself
    o = get("dp-issue153_sigkill_handler_exit_code_prompt.log")
    assert o.evidence == ["exits with return code = 1"]


def test_finished_only_with_training_complete():
    assert outcome([STEP.format(n=1), COMPLETE]).status == "finished"
    assert outcome([STEP.format(n=1), COMPLETE], exit_code=0).kind == "complete"
    # exit status 0 alone is not success
    o = outcome([STEP.format(n=1)], exit_code=0)
    assert (o.status, o.kind) == ("failed", "exit0_incomplete")
    o = outcome([TS + " [INFO] [launch.py:351:main] Process 9 exits successfully."])
    assert o.status != "finished"


def test_zero_exit_refusals_and_cache_only():
    o = outcome(["WARNING: You have set a lot of resolutions in the dataset config. Please read"],
                exit_code=0)
    assert (o.status, o.kind) == ("failed", "too_many_resolutions") and "3" in o.fix
    o = outcome(["caching latents: (1.0, 1)"], exit_code=0, cache_only=True)
    assert (o.status, o.kind) == ("stopped", "cache_only")
    o = outcome([STEP.format(n=5), "Manually quitting"], exit_code=0)
    assert (o.status, o.kind) == ("stopped", "manual_quit")


def test_user_stop_and_signals():
    o = outcome([STEP.format(n=5)], exit_code=-15, user_stopped=True)
    assert (o.status, o.kind) == ("stopped", "user_stop")
    o = outcome([STEP.format(n=5), TS + " [INFO] [launch.py:336:sigkill_handler] Main process "
                 "received SIGINT, exiting"])
    assert (o.status, o.kind) == ("stopped", "interrupted")
    o = outcome([STEP.format(n=5), "Traceback (most recent call last):",
                 '  File "train.py", line 1, in <module>', "KeyboardInterrupt"])
    assert (o.status, o.kind) == ("stopped", "interrupted")
    o = outcome([STEP.format(n=5)], exit_code=-11)
    assert (o.status, o.kind) == ("failed", "signal") and "SIGSEGV" in o.title
    # complete beats a late stop request
    assert outcome([COMPLETE], user_stopped=True).status == "finished"


@pytest.mark.parametrize("rc", [-9, 137, 247])
def test_sigkill_is_host_ram(rc):
    o = outcome(["caching latents: (1.0, 1)"], exit_code=rc)
    assert (o.status, o.kind) == ("failed", "host_oom")
    assert "caching" in o.explanation and "map_num_proc" in o.fix
    o = outcome([STEP.format(n=3), EXIT.format(rc=-9)])
    assert o.kind == "host_oom" and "during training" in o.explanation


def test_specific_errors_beat_generic_ones():
    oom_then_nccl = [
        STEP.format(n=1),
        "[rank0]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.",
        "[rank1]:[E423 17:06:16.181433982 ProcessGroupNCCL.cpp:1981] [PG ID 2 PG GUID 2 Rank 1] "
        "Process group watchdog thread terminated with exception: NCCL error",
        EXIT.format(rc=1),
    ]
    o = outcome(oom_then_nccl, exit_code=1)
    assert o.kind == "cuda_oom" and "float8" in o.fix
    cases = {
        "ModuleNotFoundError: No module named 'flash_attn'": ("flash_attn", "flash-attn"),
        "RuntimeError: CUDA error: no kernel image is available for execution on the device":
            ("cuda_arch", "PyTorch"),
        "RuntimeError: shape '[1, 16, 21, 60, 104]' is invalid for input of size 2096640":
            ("shape_mismatch", "--regenerate_cache"),
        "RuntimeError: Processed dataset was empty. Probably caused by rounding down":
            ("empty_dataset", "num_repeats"),
        "[W] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1) ran for 1800039 ms":
            ("nccl", "NCCL_IB_DISABLE=1"),
    }
    for line, (kind, fix_word) in cases.items():
        o = outcome([line, EXIT.format(rc=1)], exit_code=1)
        assert (o.status, o.kind) == ("failed", kind), line
        assert fix_word in o.fix and o.evidence[0] == line.strip()


def test_flash_attn_assert_in_traceback_source():
    o = outcome(["Traceback (most recent call last):",
                 '  File "/dp/models/wan/attention.py", line 107, in flash_attention',
                 "    assert FLASH_ATTN_2_AVAILABLE",
                 "AssertionError"], exit_code=1)
    assert o.kind == "flash_attn"


def test_generic_traceback_names_last_frame_and_message():
    o = outcome(["Traceback (most recent call last):",
                 '  File "/dp/train.py", line 95, in <module>',
                 "    assert 'save_every_n_epochs' in config",
                 '  File "/dp/utils/common.py", line 14, in check',
                 "    raise KeyError(k)",
                 "KeyError: 'epochs'"], exit_code=1)
    assert (o.status, o.kind) == ("failed", "python_error")
    assert "KeyError" in o.title and "'epochs'" in o.explanation
    assert o.evidence == ["KeyError: 'epochs'", "/dp/utils/common.py, line 14, in check"]
    o = outcome(["Traceback (most recent call last):",
                 '  File "/dp/utils/saver.py", line 161', "    x = (", "        ^",
                 "SyntaxError: '(' was never closed"])
    assert o.kind == "syntax_error" and "saver.py" in o.title


def test_unknown_nonzero_exit_and_running():
    o = outcome([STEP.format(n=2), EXIT.format(rc=3)])
    assert (o.status, o.kind) == ("failed", "exit_error") and "3" in o.title
    o = outcome([STEP.format(n=2)], exit_code=2)
    assert (o.status, o.kind) == ("failed", "exit_error")
    o = outcome([STEP.format(n=2)])
    assert (o.status, o.kind) == ("unknown", "running") and "2" in o.title
    assert outcome([]).status == "unknown"


def test_warnings_become_notices():
    lines = ["video with frames=12 is being skipped because it is too short"] * 3
    o = outcome(lines + [STEP.format(n=1), "steps: 2 loss: nan iter time (s): 1 samples/sec: 1",
                         STEP.format(n=3), COMPLETE])
    assert o.status == "finished"
    assert [n.kind for n in o.notices] == ["video_too_short", "loss_nan"]
    assert "3 video" in o.notices[0].title and "frame_buckets" in o.notices[0].fix
    assert "step 2" in o.notices[1].title


def test_classify_text_and_to_dict():
    o = classify_text("steps: 1 loss: 0.1 iter time (s): 1.0 samples/sec: 1.0\nTRAINING COMPLETE!\n")
    d = o.to_dict()
    assert d["status"] == "finished" and set(d) >= {"kind", "title", "explanation", "fix",
                                                    "evidence", "notices"}


# ---------------------------------------------------------------------------
# dpgui parse-log
# ---------------------------------------------------------------------------
def test_cli_parse_log_json(corpus_logs, capsys):
    rc = cli.main(["parse-log", str(corpus_logs / "dp-issue531_ltx2_loss_nan.log"), "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"events", "summary", "outcome"}
    steps = [e for e in doc["events"] if e["type"] == "step"]
    assert [e["step"] for e in steps] == list(range(16, 24))
    assert steps[2]["loss"] == "nan" and steps[0]["loss"] == 0.7332
    assert doc["summary"]["last_step"] == 23 and doc["summary"]["last_lr"] == [1e-06]
    assert doc["outcome"]["kind"] == "loss_nan"


def test_cli_parse_log_human_failed_run_exits_0(corpus_logs, capsys):
    rc = cli.main(["parse-log", str(corpus_logs / "dp-issue410_normal_training_wan_4gpu.log")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "0.0614" in out and "1.6e-07" in out and "531.283" in out
    rc = cli.main(["parse-log", str(corpus_logs / "dp-issue235_nccl_watchdog_pipeline2.log")])
    out = capsys.readouterr().out
    assert rc == 0 and "outcome: failed (nccl)" in out


def test_cli_parse_log_unreadable(tmp_path, capsys):
    rc = cli.main(["parse-log", str(tmp_path / "missing.log")])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot read" in err and "Traceback" not in err
    assert cli.main(["parse-log", str(tmp_path)]) == 2


def test_cli_parse_log_exit_code_option(tmp_path, capsys):
    log = tmp_path / "run.log"
    log.write_bytes(b"caching latents: (1.0, 1)\n")
    assert cli.main(["parse-log", str(log), "--json", "--exit-code", "-9"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"]["kind"] == "host_oom"
