"""dpgui: a desktop editor, validator and launcher for diffusion-pipe.

The version lives here and only here: pyproject.toml (hatch), the PyInstaller spec, the
build scripts, the .deb, the Windows installer and ``dpgui --version`` all read it.
"""

__version__ = "0.1.0"

# The diffusion-pipe commit the schemas were written and audited against (ref/README.md);
# shown in About and used by the checks that compare a checkout with it.
DIFFUSION_PIPE_COMMIT = "8f83dbf25d03219df705570ec03e62be04bc402f"
DIFFUSION_PIPE_COMMIT_DATE = "2026-08-20"
