"""Launching, following and controlling diffusion-pipe training runs (Qt-free)."""
