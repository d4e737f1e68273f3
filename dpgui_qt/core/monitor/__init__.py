"""Monitor wing (Qt-free): what a run produced and how it went: loss and learning-rate
metrics, TensorBoard event files, GPU readings, run history, saved outputs and their hand-off
to ComfyUI.

May import the run, dataset, audit and config wings and the base modules; only the doctor
sits above it.
"""
