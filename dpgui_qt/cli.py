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
from types import ModuleType

from dpgui_qt import __version__
from dpgui_qt.commands import COMMANDS


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
    parser.epilog = ("Qt's standard options pass through to the window: -style NAME, "
                     "-platform NAME, -reverse, -stylesheet FILE, -platformtheme NAME, ...")
    return parser


# Qt's own command-line options (QGuiApplication and QApplication), passed through to the
# application object: option -> takes a value. Both "-style fusion" and "-style=fusion"
# work, with one dash or two, as in any Qt program.
QT_OPTIONS: dict[str, bool] = {
    "style": True, "stylesheet": True, "platform": True, "platformpluginpath": True,
    "platformtheme": True, "plugin": True, "qmljsdebugger": True, "qwindowgeometry": True,
    "qwindowicon": True, "qwindowtitle": True, "qwindowcolorspace": True, "session": True,
    "display": True, "geometry": True, "title": True, "name": True, "visual": True,
    "reverse": False, "widgetcount": False, "nograb": False, "dograb": False, "sync": False,
}


def split_qt_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """(dpgui's arguments, Qt's options) from a GUI command line."""
    ours: list[str] = []
    qt: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":  # everything after it is dpgui's (a file named "-reverse")
            ours += argv[i:]
            break
        name = arg.lstrip("-").split("=", 1)[0]
        dashes = len(arg) - len(arg.lstrip("-"))
        if dashes in (1, 2) and name in QT_OPTIONS:
            if QT_OPTIONS[name] and "=" not in arg:
                if i + 1 >= len(argv):
                    raise SystemExit(f"dpgui: Qt option {arg} needs a value")
                qt += [arg, argv[i + 1]]
                i += 2
                continue
            qt.append(arg)
        else:
            ours.append(arg)
        i += 1
    return ours, qt


def _build_command_parser(name: str) -> tuple[argparse.ArgumentParser, ModuleType]:
    module = importlib.import_module(f"dpgui_qt.commands.{COMMANDS[name]}")
    parser = argparse.ArgumentParser(prog="dpgui")
    sub = parser.add_subparsers(dest="command", required=True)
    module.add_parser(sub, name)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        qt_args: list[str] = []
        if argv[0] == "monitor":  # opens a window: Qt's options apply there too
            argv, qt_args = split_qt_args(argv)
        parser, module = _build_command_parser(argv[0])
        args = parser.parse_args(argv)
        args.qt_args = qt_args
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
    argv, qt_args = split_qt_args(argv)
    args = _build_parser().parse_args(argv)
    args.qt_args = qt_args
    if args.self_test:
        from dpgui_qt.selftest import run as self_test  # before the GUI path: it runs headless

        return self_test()
    from dpgui_qt.gui.app import run_gui  # Qt is imported only here

    return run_gui(args)
