"""Qt-free logic: documents, schemas, validation, run specs and log parsing.

Nothing under this package may import PySide6; tests/test_layering.py checks it.
"""
