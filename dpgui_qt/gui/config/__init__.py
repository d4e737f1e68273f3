"""The config editor's GUI: the property tree and its editors, the TOML view, the problems
panel, the memory status and the New dialog."""
