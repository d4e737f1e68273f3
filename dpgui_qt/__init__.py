"""dpgui: a desktop editor, validator and launcher for diffusion-pipe."""

__version__ = "0.1.0"
