"""PyInstaller entry script for dpgui: the same as the ``dpgui`` console script, plus the
one Python command line dpgui itself runs with ``sys.executable``.

``dpgui_qt/core/run/supervisor.py`` starts the detached run supervisor as
``<sys.executable> -I <path>/supervisor.py STATE_DIR [--foreground]``. In a frozen
build ``sys.executable`` is this program (there is no Python to run a script with), so
that exact argument shape is recognised here and the supervisor's ``main`` runs instead.
"""
import os
import sys


def _supervisor_argv(argv):
    """STATE_DIR ... when ``argv`` is ``-I .../supervisor.py STATE_DIR ...``, else None."""
    if len(argv) >= 3 and argv[0] == "-I" and os.path.basename(argv[1]) == "supervisor.py":
        return argv[2:]
    return None


def main() -> int:
    sup = _supervisor_argv(sys.argv[1:])
    if sup is not None:
        from dpgui_qt.core.run import supervisor

        return supervisor.main(sup)
    from dpgui_qt.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
