"""Config wing (Qt-free): the two TOML documents diffusion-pipe reads (:class:`DocKind`
tells them apart) and everything that edits, checks and generates them: comment-keeping
documents (document, keypath, locate, tomlcompat, literals), schemas and the one set of
schema-walking helpers (schema), validation and the cross-field rules (validate, rules,
findings), the editor's row structure (tree), templates, placeholders, presets and the
memory estimate.

The lowest wing: imports only the base modules at ``dpgui_qt.core`` top level (and
``dpgui_qt.resources`` to find the shipped schemas).
"""
