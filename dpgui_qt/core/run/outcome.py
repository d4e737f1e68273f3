"""How did a run end? Classify parsed events (+ exit code) into an Outcome.

Rules that matter:

* ``finished`` is reported ONLY when ``TRAINING COMPLETE!`` was printed.
  diffusion-pipe exits with status 0 on several refusals (too many
  resolutions, Cosmos resolution check), after ``--cache_only`` and after a
  ``save_quit`` ("Manually quitting"), so exit status 0 proves nothing.
* Specific causes beat generic ones: an OOM on rank 0 makes the other ranks
  fail with NCCL/watchdog errors and tracebacks, so the classifier walks
  :data:`~dpgui_qt.core.run.parse.ERROR_KINDS` in order (most specific first)
  and only then falls back to "a Python traceback" or "a non-zero exit".
* Exit codes: pass what the *process* returned (Python subprocess style,
  negative = killed by that signal). A launcher that forwards a negative code
  through ``sys.exit`` exits 256+rc (-9 -> 247), and shells/containers report
  128+signal (SIGKILL -> 137); both are understood.
"""
from __future__ import annotations

import math
import signal as _signal
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from .parse import (
    ERROR_KINDS,
    CachingEvent,
    CompleteEvent,
    ErrorEvent,
    Event,
    ExitCodeEvent,
    InterruptEvent,
    ManualQuitEvent,
    ProgressEvent,
    StepEvent,
    SubprocessKilledEvent,
    TracebackEvent,
    parse_text,
)

__all__ = ["Outcome", "Notice", "classify", "classify_text", "STATUSES"]

STATUSES = ("finished", "failed", "stopped", "unknown")


@dataclass(slots=True)
class Notice:
    """A non-fatal finding shown next to the outcome (e.g. videos skipped)."""

    kind: str
    title: str
    explanation: str
    fix: str
    evidence: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Outcome:
    status: str                 # finished / failed / stopped / unknown
    kind: str                   # machine-readable class, e.g. "cuda_oom"
    title: str                  # one line for a banner
    explanation: str            # plain language: what happened
    fix: str                    # what to change (concrete settings / commands)
    evidence: list[str] = field(default_factory=list)  # the line(s) that decided it
    notices: list[Notice] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# kind -> (title, explanation, fix)
_TEXT: dict[str, tuple[str, str, str]] = {
    "cuda_oom": (
        "Out of GPU memory",
        "The GPU ran out of memory (CUDA out of memory). The model, its activations and "
        "the optimizer state did not fit in VRAM at this resolution and batch size.",
        "Lower the memory use, one step at a time: set blocks_to_swap in [model] (e.g. 10-20, "
        "needs pipeline_stages = 1 and an [adapter]); use transformer_dtype = 'float8'; keep "
        "activation_checkpointing = true; lower the resolutions / frame_buckets in the dataset "
        "config; set micro_batch_size_per_gpu = 1 (raise gradient_accumulation_steps instead). "
        "Setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True reduces fragmentation.",
    ),
    "host_oom": (
        "Killed: out of system RAM",
        "A training process was killed with SIGKILL (return code -9). That is almost always the "
        "operating system's out-of-memory killer: the computer ran out of RAM (not GPU memory), "
        "usually while loading the model or caching latents / text embeddings.",
        "Use less host RAM: lower map_num_proc and caching_batch_size in the dataset config; "
        "close other programs; add swap (Linux) or raise the WSL/docker memory limit; use a "
        "float8 transformer_dtype so the weights take less RAM while loading; or run on a "
        "machine with more RAM.",
    ),
    "nccl": (
        "NCCL / multi-GPU communication error",
        "The GPUs stopped talking to each other (an NCCL error or a watchdog timeout). This "
        "often follows a crash on another GPU, or comes from peer-to-peer transfers that the "
        "hardware or driver does not support (common on consumer cards).",
        "Launch with NCCL_P2P_DISABLE=1 NCCL_IB_DISABLE=1 in the environment; check that the "
        "number of GPUs is a multiple of pipeline_stages; look above this error for an earlier "
        "failure on another rank (e.g. out of memory) and fix that first.",
    ),
    "flash_attn": (
        "flash-attn is missing or broken",
        "This model's attention code needs the flash-attn package, which is not installed or "
        "does not match the installed PyTorch/CUDA.",
        "Install a flash-attn build that matches your torch and CUDA versions (pip install "
        "flash-attn --no-build-isolation, or a prebuilt wheel for your exact torch/CUDA/Python), "
        "then restart the run.",
    ),
    "cuda_arch": (
        "PyTorch does not support this GPU",
        "The installed PyTorch (or a CUDA extension) was not built for this GPU's architecture "
        "(\"no kernel image is available\" / \"sm_XX is not compatible\"). New GPUs such as the "
        "RTX 50xx series (sm_120) need a recent CUDA build.",
        "Install a PyTorch build for your GPU (e.g. the cu128 wheels for RTX 50xx), then "
        "reinstall CUDA extensions (flash-attn, bitsandbytes, deepspeed ops) against it.",
    ),
    "shape_mismatch": (
        "Tensor shape mismatch",
        "Tensors of the wrong shape reached the model. After a diffusion-pipe update or a "
        "change of model/settings, old cached latents or text embeddings no longer match; "
        "it can also mean a model file of a different variant than the config says.",
        "Start again with --regenerate_cache to rebuild the dataset cache. If it happens while "
        "loading weights, check that the checkpoint paths in [model] belong to this model type "
        "and variant.",
    ),
    "state_dict_mismatch": (
        "Model weights do not match the model",
        "Loading a weights file failed because its parameter names do not match the model "
        "being built (missing or unexpected keys). The file is for a different model or "
        "variant, is truncated, or is in another format.",
        "Check every path in [model] (checkpoint, transformer, VAE, text encoders) points to "
        "the files this model type expects; re-download files that may be incomplete.",
    ),
    "resume_no_latest": (
        "Nothing to resume from",
        "--resume_from_checkpoint found no 'latest' file in the run folder, so there is no "
        "DeepSpeed checkpoint to load (diffusion-pipe then stops). A bare "
        "--resume_from_checkpoint picks the newest folder in output_dir, which may be a run "
        "that never wrote a checkpoint.",
        "Resume from a run folder that contains a 'latest' file and a global_step* folder "
        "(pass its folder name to --resume_from_checkpoint), or start a fresh run. Set "
        "checkpoint_every_n_minutes / checkpoint_every_n_epochs so future runs can be resumed.",
    ),
    "empty_dataset": (
        "The dataset is empty after batching",
        "Every size bucket was rounded down to a multiple of the global batch size and nothing "
        "was left (\"Processed dataset was empty\").",
        "Lower micro_batch_size_per_gpu / gradient_accumulation_steps (the global batch), or "
        "raise num_repeats in the dataset config, or use fewer resolutions / aspect-ratio "
        "buckets so each bucket holds more items.",
    ),
    "too_many_resolutions": (
        "Refused: too many resolutions",
        "diffusion-pipe refused the dataset config (more than 3 resolutions, or resolutions "
        "this model does not support) and quit with exit status 0 without training.",
        "Use at most 3 resolutions per directory (see the comments in examples/dataset.toml), "
        "or add --i_know_what_i_am_doing if you really mean it.",
    ),
    "disk_full": (
        "Disk full",
        "Writing a file failed with \"No space left on device\".",
        "Free space on the disk that holds output_dir and the dataset cache, or point "
        "output_dir somewhere larger; old global_step* checkpoint folders are large.",
    ),
    "cuda_error": (
        "CUDA error",
        "The GPU reported an error (for example an illegal memory access). Causes range from a "
        "bug in a CUDA extension to an unstable GPU (overclock, power, heat).",
        "Run again; if it repeats, update the NVIDIA driver and PyTorch, remove GPU overclocks, "
        "and run with CUDA_LAUNCH_BLOCKING=1 to locate the failing operation.",
    ),
    "segfault": (
        "Crashed (segmentation fault)",
        "A native library crashed the process (segmentation fault, return code -11).",
        "Update or reinstall the compiled packages (torch, deepspeed, bitsandbytes, "
        "flash-attn) so they match each other; check the messages just above for the library.",
    ),
    "container_lost": (
        "The container stopped unexpectedly",
        "Docker lost the container while it was running. When this happens during caching or "
        "model loading it is usually the host or WSL memory limit killing it.",
        "Raise the docker/WSL memory limit (e.g. memory= in .wslconfig), lower map_num_proc "
        "and caching_batch_size in the dataset config, or use a float8 transformer_dtype.",
    ),
}


def _norm_signal(rc: int | None) -> int | None:
    """Signal number a return code stands for, or None."""
    if rc is None:
        return None
    if rc < 0:
        return -rc
    if rc in (137, 247):  # 128+SIGKILL (shell/docker), 256-9 (sys.exit(-9))
        return 9
    if rc in (130, 254):  # SIGINT
        return 2
    if rc in (143, 241):  # SIGTERM
        return 15
    if rc in (139, 245):  # SIGSEGV
        return 11
    return None


def _signame(sig: int) -> str:
    try:
        return _signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _notices(events: list[Event], totals: dict[str, Any] | None = None) -> list[Notice]:
    out: list[Notice] = []
    totals = totals or {}
    short = [e for e in events if type(e) is ErrorEvent and e.kind == "video_too_short"]
    if short:
        out.append(Notice(
            "video_too_short",
            f"{totals.get('video_too_short', len(short))} video(s) skipped as too short",
            "Some videos have fewer frames than the frame bucket they were assigned to, so "
            "they were left out of training.",
            "Add shorter values to frame_buckets in the dataset config (e.g. 1, 33, 65), or "
            "remove / re-cut the short clips.",
            [short[0].line] + ([short[-1].line] if len(short) > 1 else []),
        ))
    steps = [e for e in events if type(e) is StepEvent]
    bad = [e for e in steps if not math.isfinite(e.loss)]
    if bad:
        out.append(Notice(
            "loss_nan",
            f"Loss became {bad[0].loss} at step {bad[0].step}",
            f"The training loss is not a number from step {bad[0].step} on "
            f"({totals.get('nonfinite', len(bad))} of {totals.get('steps', len(steps))} logged steps). Once NaN appears the LoRA weights "
            "are usually ruined and later saves are useless.",
            "Resume from a checkpoint saved before that step, or restart, with a lower learning "
            "rate; use bfloat16 rather than float16 for dtype; keep gradient_clipping (e.g. 1.0); "
            "for new model types check for a known NaN bug and update diffusion-pipe.",
            [f"steps: {bad[0].step} loss: {bad[0].loss}"],
        ))
    return out


def classify(events: Iterable[Event], exit_code: int | None = None, *,
             user_stopped: bool = False, cache_only: bool = False,
             totals: dict[str, Any] | None = None) -> Outcome:
    """Decide how a run ended.

    ``events``: everything the parser produced (include ``LogParser.finish()``).
    ``exit_code``: the launcher process's return code, None while it runs or
    when unknown (a log file). ``user_stopped``: the user pressed Stop.
    ``cache_only``: the run was launched with ``--cache_only``.
    ``totals``: counts over the whole log when ``events`` is a sample of it
    (``steps``, ``nonfinite``, ``video_too_short``; see ``SummaryBuilder``).
    """
    events = list(events)
    notices = _notices(events, totals)

    def make(status: str, kind: str, title: str, explanation: str, fix: str,
             evidence: Iterable[str]) -> Outcome:
        return Outcome(status, kind, title, explanation, fix,
                       [e for e in evidence if e], notices)

    steps = [e for e in events if type(e) is StepEvent]
    complete = [e for e in events if type(e) is CompleteEvent]
    errors = [e for e in events if type(e) is ErrorEvent and e.severity == "error"]
    tracebacks = [e for e in events if type(e) is TracebackEvent]
    exits = [e for e in events if type(e) is ExitCodeEvent]
    killed = [e for e in events if type(e) is SubprocessKilledEvent]
    interrupts = [e for e in events if type(e) is InterruptEvent]
    manual = [e for e in events if type(e) is ManualQuitEvent]
    caching = any(type(e) in (CachingEvent, ProgressEvent) for e in events) and not steps
    phase = ("during training" if steps else "before training started (model loading or caching)")

    # the worst launcher-reported code: a signal beats a plain failure
    log_rc = None
    for e in exits:
        if e.rc != 0 and (log_rc is None or e.rc < 0 <= log_rc):
            log_rc = e.rc
    rc = exit_code if exit_code not in (None, 0) else (log_rc if log_rc is not None else exit_code)
    sig = _norm_signal(rc)

    if complete:
        return make("finished", "complete", "Training complete",
                    "diffusion-pipe printed TRAINING COMPLETE! after its final save.",
                    "", ["TRAINING COMPLETE!"])

    if user_stopped:
        why = ""
        if errors:
            why = f" Before that, the log shows: {_TEXT[errors[0].kind][0]}."
        return make("stopped", "user_stop", "Stopped by you",
                    "The run was stopped from the GUI before it finished." + why,
                    "Resume later with --resume_from_checkpoint (needs a saved checkpoint in the "
                    "run folder).", [errors[0].line] if errors else [])

    if manual:
        return make("stopped", "manual_quit", "Stopped with save_quit",
                    "A save_quit file in the run folder made diffusion-pipe write a checkpoint "
                    "and quit (\"Manually quitting\").",
                    "Resume with --resume_from_checkpoint when you want to continue.",
                    ["Manually quitting"])

    # a specific, recognised error wins over everything generic
    by_kind: dict[str, ErrorEvent] = {}
    for err in errors:
        by_kind.setdefault(err.kind, err)
    for kind in ERROR_KINDS:
        hit = by_kind.get(kind)
        if hit is None or kind not in _TEXT:
            continue
        title, expl, fix = _TEXT[kind]
        if kind == "cuda_oom" and not steps:
            expl += " No training step was logged before it."
        evidence = [hit.line]
        tb = next((t for t in tracebacks if t.rank == hit.rank and t.file), None)
        if tb is not None:
            evidence.append(_frame_text(tb))
        return make("failed", kind, title, expl, fix, evidence)

    if sig == 9 or (killed and not tracebacks and rc is None and not exits):
        title, expl, fix = _TEXT["host_oom"]
        if sig != 9:
            title = "A training process was killed (probably out of system RAM)"
            expl = ("The launcher had to kill the job because a training process died without "
                    "printing a Python error (the return code is not in the log). That is how "
                    "the out-of-memory killer looks: most likely the computer ran out of RAM "
                    + phase + ".")
        else:
            expl = expl + " Here it happened " + phase + "."
        ev = [f"exits with return code = {rc}"] if sig == 9 else [f"Killing subprocess {killed[0].pid}"]
        return make("failed", "host_oom", title, expl, fix, ev)

    if interrupts or sig in (2, 15):
        name = interrupts[0].signal if interrupts else _signame(sig or 2)
        return make("stopped", "interrupted", f"Interrupted ({name})",
                    f"The run received {name} (Ctrl-C, a stop request or a system shutdown) and "
                    "exited before finishing.",
                    "Resume with --resume_from_checkpoint if a checkpoint was saved.",
                    [f"Main process received {name}"] if interrupts else [f"return code {rc}"])

    real_tbs = [t for t in tracebacks if t.exc_type != "KeyboardInterrupt"]
    if tracebacks and not real_tbs:
        return make("stopped", "interrupted", "Interrupted (KeyboardInterrupt)",
                    "The processes were interrupted (Ctrl-C) and exited before finishing.",
                    "Resume with --resume_from_checkpoint if a checkpoint was saved.",
                    [tracebacks[0].exception or "KeyboardInterrupt"])
    if real_tbs:
        # prefer a traceback that reached its exception line; rank 0 first
        tb = sorted(real_tbs, key=lambda t: (t.exception is None, t.rank or 0))[0]
        where = _frame_text(tb)
        if tb.exception:
            if tb.exc_type in ("SyntaxError", "IndentationError", "TabError"):
                return make("failed", "syntax_error", f"Python {tb.exc_type} in {_short(tb.file)}",
                            "A Python source file could not be read: "
                            f"{tb.exception}. This usually comes from a hand edit or a "
                            "half-finished update of diffusion-pipe.",
                            "Undo the edit (git diff / git checkout -- <file>) or update "
                            "diffusion-pipe again (git pull, git submodule update --init).",
                            [tb.exception, where])
            title = f"Python error: {tb.exc_type or tb.exception}"[:120]
            expl = (f"The run stopped with a Python exception: {tb.exception}. "
                    f"The innermost frame was {where}.")
            ev = [tb.exception, where]
        else:
            title = "Python error (traceback is cut off)"
            expl = ("A Python traceback was printed, but the log ends before its last line "
                    f"(the exception). The innermost frame shown is {where}.")
            ev = [where]
        fix = ("Read the exception message; it usually names the setting or file at fault. "
               "If it points into diffusion-pipe or a library after an update, reinstall "
               "requirements (pip install -r requirements.txt) and search the diffusion-pipe "
               "issues for the message.")
        return make("failed", "python_error", title, expl, fix, ev)

    if rc is not None and rc != 0:
        if sig is not None:
            name = _signame(sig)
            return make("failed", "signal", f"Killed by {name}",
                        f"A training process was ended by {name} (return code {rc}).",
                        "Check the system log (dmesg / journalctl) for why the process was "
                        "killed; if it was the OOM killer, see the RAM advice for return code -9.",
                        [f"return code {rc}"])
        return make("failed", "exit_error", f"Exited with return code {rc}",
                    "A training process exited with an error, but no Python traceback or known "
                    "error message was captured. The cause is normally printed just above the "
                    "launcher's 'exits with return code' line, possibly on stderr.",
                    "Make sure both stdout and stderr are captured, look at the last messages "
                    "before the exit, and run again to reproduce.",
                    [f"exits with return code = {rc}"])

    if killed:
        return make("failed", "exit_error", "A training process failed",
                    "The launcher killed the job because one training process ended early; "
                    "no error message was captured.",
                    "Look at the messages just before 'Killing subprocess' and make sure stderr "
                    "is captured.", [f"Killing subprocess {killed[0].pid}"])

    if rc == 0 or any(e.rc == 0 for e in exits):
        if cache_only:
            return make("stopped", "cache_only", "Caching done (--cache_only)",
                        "The dataset was cached and the run exited as asked (--cache_only); no "
                        "training was done.", "Launch again without --cache_only to train.", [])
        return make("failed", "exit0_incomplete", "Exited without finishing training",
                    "The process exited with status 0 but never printed TRAINING COMPLETE!. "
                    "diffusion-pipe does this when it refuses a config with a warning (for "
                    "example too many resolutions) or after --cache_only.",
                    "Read the last WARNING lines above the exit; fix the config and launch again.",
                    ["exit status 0 without TRAINING COMPLETE!"])

    # still running, or the log was cut
    if notices and notices[-1].kind == "loss_nan" and steps and not math.isfinite(steps[-1].loss):
        n = notices.pop()  # it is the outcome itself now, not a side note
        return make("unknown", "loss_nan", n.title, n.explanation, n.fix, n.evidence)
    if steps:
        return make("unknown", "running", f"No ending yet (last step {steps[-1].step})",
                    "The log shows training progress but no end: the run is still going or the "
                    "log was cut.", "", [])
    if caching:
        return make("unknown", "running", "No ending yet (caching)",
                    "The log ends while the dataset is being cached.", "", [])
    return make("unknown", "running", "No ending yet",
                "The log shows no training step and no end of the run.", "", [])


def _short(path: str | None) -> str:
    if not path:
        return "?"
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-2:]) if len(parts) > 1 else path


def _frame_text(tb: TracebackEvent) -> str:
    s = f"{tb.file}, line {tb.line}"
    if tb.function:
        s += f", in {tb.function}"
    return s


def classify_text(text: str, exit_code: int | None = None, **kw: Any) -> Outcome:
    """Parse a whole log and classify it."""
    return classify(parse_text(text), exit_code, **kw)
