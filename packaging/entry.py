"""PyInstaller entry script for dpgui: the same as the ``dpgui`` console script, plus the
Python command lines dpgui itself runs with ``sys.executable``.

dpgui starts two detached helpers by file path, standard library only:

* the run supervisor (``dpgui_qt/core/run/supervisor.py``):
  ``<sys.executable> -I <path>/supervisor.py STATE_DIR [--foreground]``;
* the run queue's runner (``dpgui_qt/core/run/queue_runner.py``):
  ``<sys.executable> -I <path>/queue_runner.py QUEUE_DIR STATE_ROOT [...]``.

In a frozen build ``sys.executable`` is this program (there is no Python to run a script
with), so those exact argument shapes are recognised here and the module's ``main`` runs
instead.
"""
import os
import sys

HELPERS = {"supervisor.py": "dpgui_qt.core.run.supervisor",
           "queue_runner.py": "dpgui_qt.core.run.queue_runner"}


def _helper_argv(argv):
    """(module, its argv) when ``argv`` is ``-I .../<helper>.py ARGS...``, else None."""
    if len(argv) >= 3 and argv[0] == "-I" and os.path.basename(argv[1]) in HELPERS:
        return HELPERS[os.path.basename(argv[1])], argv[2:]
    return None


def _supervisor_argv(argv):
    """STATE_DIR ... when ``argv`` is ``-I .../supervisor.py STATE_DIR ...``, else None."""
    found = _helper_argv(argv)
    return found[1] if found and found[0].endswith(".supervisor") else None


def main() -> int:
    found = _helper_argv(sys.argv[1:])
    if found is not None:
        import importlib

        module, args = found
        return importlib.import_module(module).main(args)
    from dpgui_qt.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
