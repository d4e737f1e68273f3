"""PyInstaller runtime hook: give the processes dpgui starts the user's environment.

On Linux the bootloader points LD_LIBRARY_PATH at the bundled libraries (the user's value
is kept in LD_LIBRARY_PATH_ORIG). This process has already loaded what it needs (the
dynamic loader reads LD_LIBRARY_PATH once, at start), but a trainer started by
``dpgui launch`` or the GUI would inherit it and load our libstdc++/libz/glib instead of
its own. Restore the user's value for children.

PYINSTALLER_RESET_ENVIRONMENT=1 makes a frozen dpgui started by this one (the detached
run supervisor) set itself up afresh instead of reusing this process's unpacked folder,
which a single-file build deletes when it exits.
"""
import os
import sys

if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
    _orig = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if _orig is not None:
        os.environ["LD_LIBRARY_PATH"] = _orig
    elif os.environ.get("LD_LIBRARY_PATH", "").startswith(getattr(sys, "_MEIPASS", "\0")):
        os.environ.pop("LD_LIBRARY_PATH", None)
os.environ["PYINSTALLER_RESET_ENVIRONMENT"] = "1"
