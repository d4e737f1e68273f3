"""``dpgui outputs`` and ``dpgui prune``: what runs left on disk, and freeing it.

``dpgui outputs OUTPUT_DIR [--config MAIN.toml] [--json]`` lists each run's saved
epochs/steps with their files and sizes, DeepSpeed checkpoints (and which one
``latest`` names), config copies and totals, and the dataset caches with
whether they are stale for the config.

``dpgui prune OUTPUT_DIR --keep-checkpoints N [--dry-run]`` keeps the newest N
DeepSpeed checkpoints of every run (never the one ``latest`` names unless
``--include-latest``; saved epochs/steps are never touched) and moves the rest
to the system trash (``--permanently`` deletes).  ``--stale-caches`` also
removes caches diffusion-pipe would not reuse for ``--config``.

Exit status: 0 ok, 1 something could not be removed, 2 usage error.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parser(subparsers, name: str = "outputs"):
    if name == "prune":
        p = subparsers.add_parser(name, help="free disk: old DeepSpeed checkpoints, stale caches",
                                  description="Keep the newest N DeepSpeed checkpoints of each run "
                                  "in OUTPUT_DIR and move the others to the system trash. Saved "
                                  "epochs/steps are never removed.")
        p.add_argument("output_dir", metavar="OUTPUT_DIR")
        p.add_argument("--keep-checkpoints", type=int, metavar="N",
                       help="DeepSpeed checkpoints to keep per run")
        p.add_argument("--include-latest", action="store_true",
                       help="the checkpoint 'latest' names may go too (then the run cannot resume)")
        p.add_argument("--stale-caches", action="store_true",
                       help="also remove dataset caches that are stale for --config")
        p.add_argument("--run", action="append", default=[], metavar="NAME",
                       help="only these run folders (repeatable)")
        p.add_argument("--dry-run", action="store_true", help="show what would go and stop")
        p.add_argument("--permanently", action="store_true",
                       help="delete instead of moving to the trash")
        p.add_argument("--json", action="store_true", help="print the plan/result as JSON")
    else:
        p = subparsers.add_parser(name, help="list what the runs in an output_dir left on disk",
                                  description="Saved models, DeepSpeed checkpoints, config copies, "
                                  "sizes and dataset caches of the runs in OUTPUT_DIR.")
        p.add_argument("output_dir", metavar="OUTPUT_DIR")
        p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--config", metavar="MAIN.toml", help="judge dataset caches against this main "
                   "config (default: the newest run's config copy)")
    p.add_argument("--base", metavar="DIR", help="folder relative dataset paths are read from "
                   "(diffusion-pipe's checkout; default: the config's folder)")
    return p


def _print_report(rep) -> None:
    from dpgui_qt.core.monitor.outputs import human_size as hs
    print(f"{rep.output_dir}: {len(rep.runs)} run(s), {hs(rep.runs_size)} "
          f"(saved models {hs(rep.saves_size)}, checkpoints {hs(rep.checkpoints_size)})")
    for r in rep.runs:
        print(f"\n{r.name}  {r.model_type or '?'}  {hs(r.size)}")
        if r.config_copy:
            print(f"  config copy: {r.config_copy.name}"
                  + (f", dataset copy: {r.dataset_copy.name}" if r.dataset_copy else ""))
        for s in r.saves:
            w = s.weights
            print(f"  {s.name:<14} {hs(s.size):>10}  " + ", ".join(
                f"{f.name} ({hs(f.size)})" for f in s.files) + ("" if w else "  [no weights file]"))
        for c in r.checkpoints:
            print(f"  {c.name:<14} {hs(c.size):>10}  DeepSpeed checkpoint"
                  + ("  <- latest" if c.is_latest else ""))
        if not r.saves and not r.checkpoints:
            print("  nothing saved")
    if rep.caches:
        print(f"\ndataset caches ({hs(rep.caches_size)}; judged against "
              f"{rep.config_path or 'no config'}):")
        for c in rep.caches:
            state = {True: "STALE", False: "current", None: "unknown"}[c.stale]
            print(f"  {c.path}  {hs(c.size)}  {state}" + (": " + "; ".join(c.reasons) if c.reasons else ""))
            if c.unused_buckets:
                print(f"    {len(c.unused_buckets)} bucket folder(s) this config never reads "
                      f"({hs(c.unused_size)})")
    print(f"\ntotal: runs {hs(rep.runs_size)}, caches {hs(rep.caches_size)}, "
          f"reclaimable stale caches {hs(rep.stale_caches_size)}, dpgui logs {hs(rep.logs_size)}")


def run(args) -> int:
    from dpgui_qt.core.monitor import outputs as o
    from dpgui_qt.core.trash import trash_available

    out = Path(args.output_dir)
    if not out.is_dir():
        print(f"dpgui {args.command}: error: {out} is not a folder", file=sys.stderr)
        return 2
    if args.config and not Path(args.config).is_file():
        print(f"dpgui {args.command}: error: config {args.config} not found", file=sys.stderr)
        return 2
    rep = o.scan_outputs(out, args.config, args.base)
    if args.command == "outputs":
        if args.json:
            print(json.dumps(rep.to_json(), indent=1))
        else:
            _print_report(rep)
        return 0
    if args.keep_checkpoints is None and not args.stale_caches:
        print("dpgui prune: error: give --keep-checkpoints N and/or --stale-caches", file=sys.stderr)
        return 2
    if args.keep_checkpoints is not None and args.keep_checkpoints < 0:
        print("dpgui prune: error: --keep-checkpoints must be 0 or more", file=sys.stderr)
        return 2
    runs = [r for r in rep.runs if not args.run or r.name in args.run]
    missing = set(args.run) - {r.name for r in rep.runs}
    if missing:
        print(f"dpgui prune: error: no run folder {', '.join(sorted(missing))} in {out}",
              file=sys.stderr)
        return 2
    plan = o.PrunePlan()
    if args.keep_checkpoints is not None:
        plan = o.plan_keep_checkpoints(runs, args.keep_checkpoints, args.include_latest)
    if args.stale_caches:
        cp = o.plan_stale_caches(rep.caches)
        plan.items += cp.items
        plan.kept += cp.kept
    if not args.permanently and not trash_available() and not args.dry_run:
        print("dpgui prune: error: no system trash here (install send2trash) -- use "
              "--permanently to delete", file=sys.stderr)
        return 2
    verb = "would free" if args.dry_run else ("deleting" if args.permanently else "moving to trash")
    if args.dry_run:
        if args.json:
            print(json.dumps(dict(plan.to_json(), dry_run=True), indent=1))
        else:
            for i in plan.items:
                print(f"would remove {i.path}  {o.human_size(i.size)}  ({i.why})")
            for k in plan.kept:
                print(f"keep {k}")
            print(f"{verb} {o.human_size(plan.freed)} in {len(plan.items)} item(s)")
        return 0
    res = o.apply_plan(plan, permanently=args.permanently)
    if args.json:
        print(json.dumps({"removed": [str(i.path) for i in res.removed],
                          "failed": [{"path": str(i.path), "error": e} for i, e in res.failed],
                          "freed": res.freed, "trash": res.trashed}, indent=1))
    else:
        for i in res.removed:
            print(f"{'deleted' if args.permanently else 'trashed'} {i.path}  {o.human_size(i.size)}")
        for i, e in res.failed:
            print(f"could not remove {i.path}: {e}", file=sys.stderr)
        print(f"freed {o.human_size(res.freed)} in {len(res.removed)} item(s)"
              + ("" if args.permanently else " (restore from the system trash)"))
    return 1 if res.failed else 0
