"""Config wing (Qt-free): the two TOML documents diffusion-pipe reads and everything that
edits, checks and generates them: comment-keeping documents, schemas, validation and the
cross-field rules, templates, presets and the memory estimate.

Imports only the base modules at ``dpgui_qt.core`` top level.
"""
