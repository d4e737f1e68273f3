"""Audit wing (Qt-free, standard library only): does a diffusion-pipe checkout still match
dpgui's JSON Schemas?

``audit(checkout_dir, schemas_dir=None)`` reads diffusion-pipe's Python files statically
(nothing is imported or executed) and reports types without a schema file, schema files for
types the code no longer has, keys the code reads that no schema describes, and schema keys
the code no longer reads. Three jobs, one module each:

* :mod:`.extraction` -- reading diffusion-pipe's source: dispatched types and the keys read
  per table, over :mod:`.codemodel` (the parsed code and its table labels; the heuristics
  are documented there);
* :mod:`.schema_keys` -- the keys the schemas describe, per table, walked with the config
  wing's schema helpers (the ones the validator uses);
* :mod:`.report` -- the comparison: :class:`DriftFinding` records in an :class:`AuditReport`.

:mod:`.checkout` finds the checkout and the schema folder and holds the errors.

May import the config wing and the base modules at ``dpgui_qt.core`` top level; nothing
above it (run, monitor, doctor) and never Qt.
"""
from __future__ import annotations

from dpgui_qt.core.audit.checkout import (AuditError, NotACheckout, default_schemas_dir,
                                          locate_checkout)
from dpgui_qt.core.audit.extraction import Extraction, extract, known_model_types
from dpgui_qt.core.audit.report import KIND_ORDER, KIND_TITLES, AuditReport, DriftFinding, audit

__all__ = [
    "AuditError",
    "NotACheckout",
    "AuditReport",
    "DriftFinding",
    "Extraction",
    "KIND_ORDER",
    "KIND_TITLES",
    "audit",
    "extract",
    "known_model_types",
    "default_schemas_dir",
    "locate_checkout",
]
