"""What ``dpgui launch`` shares between its forms (this machine, an SSH host): the exit
codes, the RunSpec from parsed arguments, and the console printer that follows a run."""
from __future__ import annotations

from dpgui_qt.core.run import switches as sw
from dpgui_qt.core.run.follow import RunFollower
from dpgui_qt.core.run.launch import build_spec
from dpgui_qt.core.run.lines import LineKind
from dpgui_qt.core.run.parse import LrEvent, StepEvent

EXIT_OK, EXIT_FAILED, EXIT_SETUP, EXIT_STOPPED = 0, 1, 2, 3


def spec_from_args(args, checkout, deepspeed):
    """The RunSpec for parsed ``dpgui launch`` arguments (the core's build_spec)."""
    gpus: int | list[int] | None = 1
    if args.gpus is not None:
        gpus = args.gpus
    elif args.include:
        try:
            gpus = [int(x) for x in args.include.replace("localhost:", "").split(",") if x.strip()]
        except ValueError:
            raise ValueError(f"--include expects GPU ids like 0,2, not {args.include!r}") from None
    elif args.all_gpus:
        gpus = None
    extra = {}
    for item in args.env:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise ValueError(f"--env expects VAR=VALUE, not {item!r}")
        extra[k] = v
    return build_spec(
        args.config, checkout=checkout, deepspeed=deepspeed, gpus=gpus,
        master_port=args.master_port, resume=args.resume,
        switches={s.name: getattr(args, s.name) for s in sw.TRAIN_SWITCHES},
        nccl_p2p_disable=not args.no_nccl_workaround, nccl_ib_disable=not args.no_nccl_workaround,
        expandable_segments=args.expandable_segments, extra_env=extra)


def fmt_progress(ev, lr: str | None) -> str:
    it = ev.iter_time
    rate = "-"
    if it is not None and it == it and it > 0:
        rate = f"{it:.2f} s/it" if it >= 1 else f"{1 / it:.2f} it/s"
    parts = [f"step {ev.step}", f"loss {ev.loss:.4f}"]
    if lr:
        parts.append(f"lr {lr}")
    parts.append(rate)
    return "[dpgui] " + " | ".join(parts)


class ConsolePrinter:
    """The terminal side of following a run: each line as the trainer wrote it, a
    ``[dpgui] step N | loss ...`` line in place of each step report, progress bars
    redrawn in place on a terminal."""

    def __init__(self, out, run: RunFollower):
        self.out, self.run = out, run
        self.tty = out.isatty()
        self.lr: str | None = None

    def show(self, texts, kinds) -> None:
        for i, text in enumerate(texts):
            self.line(text, kinds[i] if kinds is not None else LineKind.LINE)

    def line(self, text: str, kind) -> None:
        shown = False
        for ev in self.run.parse_line(text):
            if isinstance(ev, LrEvent) and ev.lrs:
                self.lr = f"{ev.lrs[0]:.3g}"
            elif isinstance(ev, StepEvent):
                self.out.write(fmt_progress(ev, self.lr) + "\n")
                shown = True
        if "step=" in text and "lr=" in text and "[Rank" in text:
            return  # folded into the progress line
        if shown:
            return
        if kind == LineKind.CR:
            if self.tty:
                self.out.write("\r" + text[-200:])
            return
        self.out.write(text + "\n")

    def flush(self) -> None:
        self.out.flush()
