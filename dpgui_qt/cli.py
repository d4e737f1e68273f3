"""Command-line entry point: ``dpgui`` with no arguments starts the GUI.

Each subcommand lives in ``dpgui_qt/commands/<name>.py`` and provides
``add_parser(subparsers)`` (returns the argparse parser) and ``run(args) -> int``.
Modules are imported only when their command runs, so ``dpgui validate`` never
pays for Qt.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from dpgui_qt import __version__

# command name -> module under dpgui_qt.commands
COMMANDS: dict[str, str] = {
    "validate": "validate",
    "get": "getset",
    "set": "getset",
    "schema-audit": "schema_audit",
    "launch": "launch",
    "parse-log": "parse_log",
    "monitor": "monitor",
    "outputs": "outputs",
    "prune": "outputs",
    "queue": "queue",
    "dataset-report": "dataset_report",
    "doctor": "doctor",
    "presets": "presets",
    "new": "presets",
}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dpgui",
        description="Edit, validate and launch diffusion-pipe training configs. "
        "Run without a command to open the GUI.",
    )
    parser.add_argument("--version", action="version", version=f"dpgui {__version__}")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="render the main window offscreen to a PNG and exit")
    parser.add_argument("--self-test", action="store_true",
                        help="check schemas, templates and the GUI stack, then exit")
    parser.add_argument("files", nargs="*", metavar="CONFIG",
                        help="config files to open in the GUI")
    return parser


def _build_command_parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    module = importlib.import_module(f"dpgui_qt.commands.{COMMANDS[name]}")
    parser = argparse.ArgumentParser(prog="dpgui")
    sub = parser.add_subparsers(dest="command", required=True)
    module.add_parser(sub, name)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        parser, module = _build_command_parser(argv[0])
        args = parser.parse_args(argv)
        try:
            return int(module.run(args) or 0)
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            return 0
    if argv and argv[0] in ("help", "-h", "--help"):
        parser = _build_parser()
        parser.print_help()
        print("\ncommands: " + ", ".join(sorted(COMMANDS)))
        return 0
    args = _build_parser().parse_args(argv)
    if args.self_test:
        from dpgui_qt.selftest import run as self_test  # before the GUI path: it runs headless

        return self_test()
    from dpgui_qt.gui.app import run_gui  # Qt is imported only here

    return run_gui(args)
