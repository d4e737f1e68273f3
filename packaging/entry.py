"""PyInstaller entry script for dpgui: the same as the ``dpgui`` console script."""
from dpgui_qt.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
