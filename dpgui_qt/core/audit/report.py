"""The drift report: what the code reads (:mod:`.extraction`) against what the schemas
describe (:mod:`.schema_keys`), as :class:`DriftFinding` records in an :class:`AuditReport`
that prints as text or JSON (``dpgui schema-audit``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
import os
from typing import Any, Callable, Iterable

from dpgui_qt.core.audit.checkout import default_schemas_dir
from dpgui_qt.core.audit.extraction import Extraction, extract
from dpgui_qt.core.audit.schema_keys import SchemaKeys, SchemaTable, load_schema_keys

KIND_TITLES = {
    "type-without-schema": "types the code dispatches on that have no schema file",
    "schema-without-type": "schema files for types the code does not dispatch on",
    "key-not-in-schema": "keys the code reads that no schema describes",
    "schema-key-not-read": "schema keys the code no longer reads",
    "not-understood": "code the audit could not follow (the checkout changed shape; fix the audit)",
}
KIND_ORDER = tuple(KIND_TITLES)


@dataclass
class DriftFinding:
    """One difference between the checkout's code and the schemas (not a validation
    finding: those are :class:`dpgui_qt.core.config.findings.Finding`)."""

    kind: str  # one of KIND_ORDER
    table: str
    key: str | None = None  # None for type findings
    model_type: str | None = None  # the type the finding is about (model/adapter/optimizer)
    sources: list[str] = field(default_factory=list)  # diffusion-pipe file:line
    schema: str | None = None  # schema file, relative to the schema folder

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}

    def line(self) -> str:
        where = self.table if not self.model_type else f"{self.table}[{self.model_type}]"
        if self.kind == "not-understood":
            text = f"{self.table}" + (f"[{self.model_type}]" if self.model_type else "") + f": {self.key}"
        elif self.kind == "type-without-schema":
            text = f"{self.table} type {self.model_type!r}"
        elif self.kind == "schema-without-type":
            text = f"{self.table} type {self.model_type!r} ({self.schema})"
        else:
            text = f"{where}: {self.key}"
            if self.kind == "schema-key-not-read" and self.schema:
                text += f" ({self.schema})"
        if self.sources:
            more = f" +{len(self.sources) - 3}" if len(self.sources) > 3 else ""
            text += "  <- " + ", ".join(self.sources[:3]) + more
        return text


@dataclass
class AuditReport:
    checkout: str
    schemas: str
    commit: str | None
    extraction: Extraction
    findings: list[DriftFinding]

    @property
    def drift(self) -> bool:
        return bool(self.findings)

    def by_kind(self) -> dict[str, list[DriftFinding]]:
        out: dict[str, list[DriftFinding]] = {k: [] for k in KIND_ORDER}
        for f in self.findings:
            out.setdefault(f.kind, []).append(f)
        return out

    def to_json(self) -> dict[str, Any]:
        ex = self.extraction
        return {
            "drift": self.drift,
            "checkout": self.checkout,
            "commit": self.commit,
            "schemas": self.schemas,
            "summary": {k: len(v) for k, v in self.by_kind().items()},
            "findings": [f.to_json() for f in self.findings],
            "model_types": {n: d.to_json() for n, d in ex.dispatch["model"].items()},
            "adapter_types": sorted(ex.dispatch["adapter"]),
            "optimizer_types": sorted(ex.dispatch["optimizer"]),
            "passthrough_tables": sorted(ex.passthrough),
            "parse_errors": ex.parse_errors,
        }

    def format_text(self) -> str:
        ex = self.extraction
        lines = [
            f"diffusion-pipe checkout: {self.checkout}" + (f" (commit {self.commit[:12]})" if self.commit else ""),
            f"schemas: {self.schemas}",
            f"model types: {len(ex.dispatch['model'])}, adapter types: {len(ex.dispatch['adapter'])}, "
            f"optimizer types: {len(ex.dispatch['optimizer'])}, tables read: "
            + ", ".join(sorted(t for t in ex.table_reads if t.count(".") == 0)),
        ]
        groups = self.by_kind()
        for kind in KIND_ORDER:
            items = groups.get(kind) or []
            if not items:
                continue
            lines.append("")
            lines.append(f"{KIND_TITLES[kind]} ({len(items)}):")
            for f in items:
                lines.append(f"  {f.line()}")
        lines.append("")
        if self.drift:
            lines.append(f"DRIFT: {len(self.findings)} finding(s); update schemas/ (see ref/README.md).")
        else:
            lines.append("no drift: the schemas match the checkout.")
        return "\n".join(lines)


def _schema_union(files: dict[str, dict[str, SchemaTable]], label: str) -> SchemaTable:
    """Table ``label`` of every type's schema file together (keys read whatever the type)."""
    u = SchemaTable(file="")
    for t in files.values():
        if label in t:
            u.keys |= t[label].keys
            u.exempt_unread |= t[label].exempt_unread
            u.ignored |= t[label].ignored
    return u


class _Comparison:
    """What the code reads (``ex``) against what the schemas describe (``sc``), one step per
    method; every step appends to :attr:`findings`."""

    def __init__(self, ex: Extraction, sc: SchemaKeys):
        self.ex, self.sc = ex, sc
        self.findings: list[DriftFinding] = []

    def run(self) -> list[DriftFinding]:
        self.blind_spots()
        self.types_and_files()
        self.shared_tables()
        self.adapter()
        self.optimizer()
        self.model()
        return self.findings

    def table(self, label: str, code_keys: dict[str, list[str]], tab: SchemaTable | None, *,
              model_type: str | None = None, check_unread: bool = True,
              extra_read: Iterable[str] = (), schema_file: str | None = None,
              closed: bool = False) -> None:
        """Keys read but not described, and (``check_unread``) described but not read.
        ``closed``: the key set is complete even for a pass-through table (an in-tree
        constructor without ``**kwargs``)."""
        if tab is None:
            return
        for key in sorted(code_keys):
            if key not in tab.keys and key not in tab.ignored:
                self.findings.append(DriftFinding("key-not-in-schema", label, key, model_type,
                                                  list(code_keys[key]),
                                                  schema_file or tab.file or None))
        if check_unread and (closed or label not in self.ex.passthrough):
            for key in sorted(tab.keys - set(code_keys) - set(extra_read) - tab.exempt_unread):
                self.findings.append(DriftFinding("schema-key-not-read", label, key, model_type, [],
                                                  schema_file or tab.file or None))

    def blind_spots(self) -> None:
        """0. A silent pass would hide exactly the drift this tool exists for."""
        ex = self.ex
        for err in ex.parse_errors:
            self.findings.append(DriftFinding("not-understood", "code", key="syntax error",
                                              sources=[err]))
        if not ex.dispatch["model"]:
            self.findings.append(DriftFinding("not-understood", "model",
                                              key="no model type dispatch chain in train.py",
                                              sources=["train.py"]))
        for name, d in ex.dispatch["model"].items():
            if name not in ex.model_type_keys:
                self.findings.append(DriftFinding("not-understood", "model", model_type=name,
                                                  key="dispatched class not found in the checkout",
                                                  sources=[d.source]))

    def types_and_files(self) -> None:
        """1. Dispatched types <-> schema files."""
        sc = self.sc
        for table, files in (("model", sc.models), ("adapter", sc.adapters),
                             ("optimizer", sc.optimizers)):
            code = self.ex.dispatch[table]
            fold = table == "optimizer"  # train.py lower-cases the optimizer type
            norm: Callable[[str], str] = str.lower if fold else str
            file_names = {norm(n): n for n in files}
            for name, d in code.items():
                if norm(name) not in file_names:
                    self.findings.append(DriftFinding("type-without-schema", table, model_type=name,
                                                      sources=[d.source]))
            code_names = {norm(n) for n in code}
            if code:  # a chain was found; otherwise we cannot tell
                for n in files:
                    if norm(n) not in code_names:
                        self.findings.append(DriftFinding("schema-without-type", table, model_type=n,
                                                          schema=f"{table}/{n}.schema.json"))

    def shared_tables(self) -> None:
        """2. Tables every config shares: main, monitoring, dataset, directory, nested ones."""
        ex, sc = self.ex, self.sc
        for label, keys in sorted(ex.table_reads.items()):
            if label == "model" or label.startswith(("model.", "adapter", "optimizer")):
                continue
            tab = sc.tables.get(label)
            if tab is None:
                if label in ("main", "monitoring", "dataset", "directory"):
                    tab = SchemaTable(file="")  # schema file missing: every key is missing
                else:
                    continue  # nested table not described by the schema (see schema_keys)
            self.table(label, keys, tab)
        for label, tab in sc.tables.items():
            if label not in ex.table_reads and label in ("monitoring",):
                self.table(label, {}, tab)

    def adapter(self) -> None:
        """3. Adapter keys are read without knowing the adapter type: the union of its files."""
        for label, keys in sorted(self.ex.table_reads.items()):
            if label == "adapter" or label.startswith("adapter."):
                u = _schema_union(self.sc.adapters, label)
                if label != "adapter" and not u.keys:
                    continue
                self.table(label, keys, u, schema_file="adapter/*.schema.json")

    def optimizer(self) -> None:
        """4. Generic optimizer reads against the union; per type, the constructor keys of
        optimizers implemented in the checkout."""
        ex, sc = self.ex, self.sc
        opt_reads = ex.table_reads.get("optimizer", {})
        self.table("optimizer", opt_reads, _schema_union(sc.optimizers, "optimizer"),
                   check_unread=False, schema_file="optimizer/*.schema.json")
        opt_files = {n.lower(): n for n in sc.optimizers}
        for name, info in ex.optimizer_ctor_keys.items():
            fname = opt_files.get(name.lower())
            if fname is None:
                continue
            tab = sc.optimizers[fname].get("optimizer")
            if tab is None:
                continue
            ctor_keys = {k: [info["source"]] for k in info["keys"]}
            self.table("optimizer", ctor_keys, tab, model_type=name, check_unread=not info["open"],
                       extra_read=set(opt_reads) | set(info["set_by_diffusion_pipe"]),
                       closed=not info["open"])

    def model(self) -> None:
        """5. Model keys: the common reads against the union, then each type's own."""
        ex, sc = self.ex, self.sc
        common = ex.common_model_reads
        for label, keys in sorted(common.items()):
            u = _schema_union(sc.models, label)
            if label != "model" and not u.keys:
                continue
            self.table(label, keys, u, check_unread=False, schema_file="model/*.schema.json")
        for name, tables in ex.model_type_keys.items():
            files = sc.models.get(name)
            if files is None:
                continue  # reported as type-without-schema
            for label in sorted(set(tables) | set(files)):
                tab = files.get(label)
                if tab is None:
                    if label != "model":
                        continue
                    tab = SchemaTable(file=f"model/{name}.schema.json")
                self.table(label, tables.get(label, {}), tab, model_type=name,
                           extra_read=set(common.get(label, {})))


def audit(checkout_dir: str | os.PathLike[str],
          schemas_dir: str | os.PathLike[str] | None = None) -> AuditReport:
    """Compare the config surface of a diffusion-pipe checkout with dpgui's schemas.

    ``schemas_dir`` defaults to the ``schemas/`` folder shipped with dpgui.
    Raises :class:`NotACheckout` when ``checkout_dir`` has no ``train.py`` and
    :class:`AuditError` when the schema folder is unusable.
    """
    ex = extract(checkout_dir)
    sdir = Path(schemas_dir) if schemas_dir is not None else default_schemas_dir()
    sc = load_schema_keys(sdir)
    findings = _Comparison(ex, sc).run()
    order = {k: i for i, k in enumerate(KIND_ORDER)}
    findings.sort(key=lambda f: (order.get(f.kind, 99), f.table, f.model_type or "", f.key or ""))
    return AuditReport(ex.checkout, str(sdir), ex.commit, ex, findings)
