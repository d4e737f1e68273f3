"""The validation engine behind ``dpgui validate`` and the GUI's live checks.

Order of checks for one document:

1. values diffusion-pipe's ``toml`` 0.10.2 parser or its JSON round trip reject;
2. JSON Schema (the composed schema), with messages rewritten to name the key
   and say what to write instead;
3. keys no schema knows (diffusion-pipe ignores them silently: a warning, with
   "did you mean"), dead keys, forbidden keys, either-or requirements;
4. the cross-field rules in :mod:`dpgui_qt.core.config.rules`;
5. for a main config, the dataset and eval-dataset files it names, validated
   with the model type known (model-aware dataset rules).

Everything here is plain Python and reusable from the CLI, the GUI and tests.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from dpgui_qt.core.config import placeholders, tomlcompat
from dpgui_qt.core.config.document import ConfigDocument, DocKind, DocumentError
from dpgui_qt.core.config.findings import ERROR, WARNING, Finding
from dpgui_qt.core.config.schema import (FALLBACK_OPTIMIZER, SchemaRegistry, deref, item_schema,
                                         object_properties)
from dpgui_qt.core.text import did_you_mean


# schema errors on these keys mirror a named diffusion-pipe rule
_RULE_BY_KEY = {
    "dtype": "dtype_enum",
    "transformer_dtype": "dtype_enum",
    "diffusion_model_dtype": "dtype_enum",
    "save_dtype": "dtype_enum",
    "lr_scheduler": "lr_scheduler_enum",
    "activation_checkpointing": "activation_checkpointing_enum",
    "timestep_sample_method": "timestep_sample_method_enum",
    "video_clip_mode": "video_clip_mode_enum",
    "partition_method": "partition_method_enum",
    "num_repeats": "num_repeats_positive",
    "eval_datasets": "eval_items_tables",
    "epochs": "epochs_required",
    "max_sequence_length": "auraflow_max_sequence_length",
    "save_every_n_epochs": "positive_intervals",
    "save_every_n_steps": "positive_intervals",
    "checkpoint_every_n_epochs": "positive_intervals",
    "logging_steps": "positive_intervals",
    "steps_per_print": "positive_intervals",
    "gradient_accumulation_steps": "positive_intervals",
    "resolutions": "pair_lengths",
    "ar_buckets": "pair_lengths",
}
_RULE_SOURCES = {
    "dtype_enum": "train.py:104",
    "lr_scheduler_enum": "train.py:857",
    "activation_checkpointing_enum": "train.py:598",
    "timestep_sample_method_enum": "utils/common.py:132",
    "video_clip_mode_enum": "models/base.py:131",
    "partition_method_enum": "deepspeed runtime/pipe/module.py",
    "num_repeats_positive": "utils/dataset.py:232",
    "eval_items_tables": "train.py:557",
    "epochs_required": "utils/saver.py:140",
    "auraflow_max_sequence_length": "models/auraflow.py:28",
    "positive_intervals": "utils/saver.py:136",
    "pair_lengths": "utils/dataset.py:877",
    "model_type_enum": "train.py:382",
    "text_encoder_path_required": "models/base.py:583",
    "toml_homogeneous_array": "toml 0.10.2 decoder (train.py reads configs with toml.load)",
}


def detect_kind(values: dict[str, Any]) -> DocKind | None:
    """Tell a main config from a dataset config by its keys."""
    if not isinstance(values, dict):
        return None
    main_keys = {"model", "optimizer", "output_dir", "dataset", "epochs", "adapter"}
    dataset_keys = {"directory", "resolutions", "enable_ar_bucket", "frame_buckets",
                    "size_buckets", "ar_buckets", "min_ar", "max_ar"}
    m = len(main_keys & values.keys())
    d = len(dataset_keys & values.keys())
    if m == 0 and d == 0:
        return None
    return DocKind.MAIN if m >= d else DocKind.DATASET


@dataclass
class Options:
    num_gpus: int | None = None  # known when launching; None for plain validation
    check_paths: bool = True
    follow_datasets: bool = True
    search_dirs: list[Path] = field(default_factory=list)  # e.g. the diffusion-pipe checkout
    # the folder diffusion-pipe is started in (its checkout). When known, relative paths
    # are resolved against it and nothing else, exactly as the trainer will open them.
    trainer_cwd: Path | None = None


@dataclass
class Report:
    findings: list[Finding]
    files: list[str]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_error]



def _dataset_refs(values: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """``[(key_path, path text)]`` of the dataset files a main config names: ``dataset``
    and each ``eval_datasets[i].config``."""
    refs: list[tuple[tuple[Any, ...], str]] = []
    if isinstance(values.get("dataset"), str):
        refs.append((("dataset",), values["dataset"]))
    evals = values.get("eval_datasets")
    if isinstance(evals, list):
        for i, item in enumerate(evals):
            if isinstance(item, dict) and isinstance(item.get("config"), str):
                refs.append((("eval_datasets", i, "config"), item["config"]))
    return refs

class Validator:
    """Validates documents; build once, reuse (schemas and validators are cached)."""

    def __init__(self, registry: SchemaRegistry):
        self.registry = registry

    # ------------------------------------------------------------------ public
    def validate(self, doc: ConfigDocument, kind: DocKind | None = None,
                 options: Options | None = None, *, model_type: str | None = None,
                 main_values: dict[str, Any] | None = None) -> list[Finding]:
        options = options or Options()
        values = doc.values()
        kind = kind or detect_kind(values) or DocKind.MAIN
        if kind == DocKind.DATASET:
            findings = self._validate_dataset(values, options, model_type, main_values, doc)
        else:
            findings = self._validate_main(values, options, doc)
        return self._place(findings, doc)

    def validate_tree(self, doc: ConfigDocument, kind: DocKind | None = None,
                      options: Options | None = None) -> Report:
        """Validate a document and, for a main config, the dataset files it names."""
        options = options or Options()
        kind = kind or detect_kind(doc.values()) or DocKind.MAIN
        findings = self.validate(doc, kind, options)
        files = [str(doc.path) if doc.path else "<text>"]
        if kind == DocKind.MAIN and options.follow_datasets:
            for _ref_path, target in self.dataset_references(doc, options):
                if target is None:
                    continue
                files.append(str(target))
                try:
                    sub = ConfigDocument.load(target)
                except DocumentError as exc:
                    line, col = getattr(exc, "line", 1), getattr(exc, "col", 1)
                    findings.append(Finding(ERROR, (), f"cannot read the dataset config: {exc}",
                                            "dataset_readable", file=str(target), line=line, col=col))
                    continue
                model = doc.values().get("model")
                mtype = model.get("type") if isinstance(model, dict) else None
                findings.extend(self.validate(sub, DocKind.DATASET, options, model_type=mtype,
                                              main_values=doc.values()))
        return Report(findings, files)

    def dataset_references(self, doc: ConfigDocument, options: Options | None = None
                           ) -> list[tuple[tuple[Any, ...], Path | None]]:
        """``[(key_path, resolved file or None)]`` for ``dataset`` and ``eval_datasets``."""
        options = options or Options()
        out = []
        for path, raw in _dataset_refs(doc.values()):
            found = self.resolve_path(raw, doc, options) if raw.strip() else None
            out.append((path, found if found is not None and found.is_file() else None))
        return out

    def _special_file_findings(self, doc: ConfigDocument, options: Options) -> list[Finding]:
        """``dataset``/``eval_datasets`` naming a FIFO, a device or a socket: diffusion-pipe
        would block on it or read it forever, so it is an error, not a missing file."""
        from dpgui_qt.core.safeio import regular_file_problem

        out = []
        for path, raw in _dataset_refs(doc.values()):
            found = self.resolve_path(raw, doc, options) if raw.strip() else None
            if found is None or found.is_dir():
                continue
            problem = regular_file_problem(found)
            if problem:
                out.append(Finding(ERROR, path, (
                    f"{raw!r} is {problem}, not a dataset config file; name a regular .toml "
                    "file (diffusion-pipe would block or read it without end)"),
                    "dataset_regular_file"))
        return out

    def resolve_path(self, raw: str, doc: ConfigDocument | None, options: Options) -> Path | None:
        """The existing file or folder ``raw`` names, or None.  With a known trainer
        working directory a relative path is read from there only (diffusion-pipe's
        semantics); otherwise next to the document, then in ``search_dirs``."""
        p = Path(os.path.expanduser(raw))
        if p.is_absolute():
            return p if p.exists() else None
        if options.trainer_cwd is not None:
            cand = Path(options.trainer_cwd) / p
            return cand if cand.exists() else None
        bases = []
        if doc is not None and doc.path is not None:
            bases.append(doc.path.resolve().parent)
        bases.extend(options.search_dirs)
        for base in bases:
            cand = base / p
            if cand.exists():
                return cand
        return None

    def beside_document(self, raw: str, doc: ConfigDocument | None) -> Path | None:
        """For a relative ``raw``: the existing path next to ``doc`` (where a person
        reading the file would look), or None."""
        p = Path(os.path.expanduser(raw))
        if p.is_absolute() or doc is None or doc.path is None:
            return None
        cand = Path(doc.path).resolve().parent / p
        return cand if cand.exists() else None

    # ---------------------------------------------------------------- main
    def _validate_main(self, values: dict[str, Any], options: Options, doc: ConfigDocument) -> list[Finding]:
        from dpgui_qt.core.config import rules

        reg = self.registry
        findings: list[Finding] = []
        findings.extend(self._toml_compat(values))
        schema = reg.compose_for(values)
        model = values.get("model") if isinstance(values.get("model"), dict) else None
        mtype = model.get("type") if model else None
        if model is not None and "type" in model and reg.model(mtype) is None:
            known = reg.model_types()
            hint = did_you_mean(str(mtype), known)
            findings.append(Finding(
                ERROR, ("model", "type"),
                f"{mtype!r} is not a model type diffusion-pipe knows{hint}; "
                f"use one of: {', '.join(known)}",
                "model_type_enum", _RULE_SOURCES["model_type_enum"]))
        adapter = values.get("adapter")
        if isinstance(adapter, dict) and "type" in adapter and reg.adapter(adapter["type"]) is None:
            findings.append(Finding(
                ERROR, ("adapter", "type"),
                f"{adapter['type']!r} is not an adapter type; use 'lora' or 'lokr', or remove "
                "the [adapter] table for a full fine-tune",
                "adapter_type_enum", "train.py:133"))
        findings.extend(self._schema_findings(schema, values))
        findings.extend(self._structure_findings(schema, values, ()))
        if options.check_paths:
            findings.extend(self._path_findings(schema, values, (), doc, options))
        findings.extend(self._special_file_findings(doc, options))
        ctx = rules.RuleContext(kind=DocKind.MAIN, values=values, registry=reg, schema=schema,
                                model_type=mtype if reg.model(mtype) else None,
                                options=options)
        findings.extend(rules.run_rules(ctx))
        return findings

    # ------------------------------------------------------------- dataset
    def _validate_dataset(self, values: dict[str, Any], options: Options, model_type: str | None,
                          main_values: dict[str, Any] | None, doc: ConfigDocument) -> list[Finding]:
        from dpgui_qt.core.config import rules

        reg = self.registry
        schema = reg.dataset()
        findings = list(self._toml_compat(values))
        findings.extend(self._schema_findings(schema, values))
        findings.extend(self._structure_findings(schema, values, ()))
        if options.check_paths:
            findings.extend(self._path_findings(schema, values, (), doc, options))
        ctx = rules.RuleContext(kind=DocKind.DATASET, values=values, registry=reg, schema=schema,
                                model_type=model_type if reg.model(model_type) else None,
                                options=options, main_values=main_values)
        findings.extend(rules.run_rules(ctx))
        return findings

    # -------------------------------------------------------------- pieces
    def _toml_compat(self, values: dict[str, Any]) -> Iterable[Finding]:
        for path, message in tomlcompat.find_incompatibilities(values):
            yield Finding(ERROR, path, message, "toml_homogeneous_array",
                          _RULE_SOURCES["toml_homogeneous_array"])

    def _schema_findings(self, schema: dict[str, Any], values: dict[str, Any]) -> Iterable[Finding]:
        validator = self.registry.validator(schema)
        for err in validator.iter_errors(values):
            yield from self._translate(err, schema, values)

    def _translate(self, err: Any, schema: dict[str, Any], values: dict[str, Any]) -> Iterable[Finding]:
        # err: a jsonschema ValidationError (its stubs mark every field "maybe unset"; an
        # error from iter_errors has them all)
        path = tuple(err.absolute_path)
        kind = err.validator
        sub = err.schema if isinstance(err.schema, dict) else {}
        if kind == "additionalProperties":
            return  # reported by the unknown-key pass with better wording
        if kind == "required":
            instance = err.instance if isinstance(err.instance, dict) else {}
            named = re.match(r"'(.+?)' is a required property", err.message)
            missing = [named.group(1)] if named else list(err.validator_value)
            for key in missing:
                if key in instance:
                    continue
                prop = (sub.get("properties") or {}).get(key, {})
                desc = _first_sentence(prop.get("description", ""))
                table = _table_name(path)
                rule = _RULE_BY_KEY.get(key, "schema.required")
                if path and path[0] == "model" and key not in ("type", "dtype"):
                    mtype = values.get("model", {}).get("type")
                    what = f"{mtype} needs {key}"
                else:
                    what = f"{key} is required"
                msg = f"{what}; add it to {table}"
                if desc:
                    msg += f" ({desc})"
                yield Finding(ERROR, path + (key,), msg, rule, _RULE_SOURCES.get(rule, ""))
            return
        key = next((p for p in reversed(path) if isinstance(p, str)), "")
        rule = _RULE_BY_KEY.get(key, f"schema.{kind}")
        if rule == "dtype_enum" and err.instance == "nf4":
            rule = "hidream_nf4"
        value = err.instance
        shown = _show(value)
        if kind == "enum":
            options = [str(o) for o in err.validator_value]
            hint = did_you_mean(str(value), options) if isinstance(value, str) else ""
            msg = f"{shown} is not allowed{hint}; use one of: {', '.join(options)}"
            if rule == "hidream_nf4":
                msg = ("'nf4' is documented for HiDream but diffusion-pipe cannot use it "
                       "(KeyError: it is not a dtype it knows); use 'float8' to save memory")
        elif kind == "const":
            msg = f"{shown} must be {_show(err.validator_value)}"
        elif kind == "type":
            want = err.validator_value
            want = want if isinstance(want, list) else [want]
            shown_value = "" if isinstance(value, (dict, list)) else f" {shown}"
            msg = f"expected {_or(_type_words(w) for w in want)}, not {_type_of(value)}{shown_value}"
            msg += _type_hint(value, want)
        elif kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
            words = {"minimum": "at least", "exclusiveMinimum": "greater than",
                     "maximum": "at most", "exclusiveMaximum": "less than"}[kind]
            msg = f"{shown} is too {'small' if 'inimum' in kind else 'large'}; it must be {words} {err.validator_value}"
        elif kind in ("minItems", "maxItems"):
            words = "at least" if kind == "minItems" else "at most"
            msg = f"has {len(value) if isinstance(value, list) else '?'} item(s); it needs {words} {err.validator_value}"
        elif kind in ("anyOf", "oneOf"):
            alts = [_describe(a, schema) for a in err.validator_value]
            msg = f"{shown} is not valid here; write {_or(alts)}"
            if key == "eval_datasets" or (path and path[0] == "eval_datasets"):
                msg += " (each eval dataset is a table {name = '...', config = 'file.toml'})"
            if path and path[:2] == ("model", "text_encoders"):
                rule = "text_encoder_path_required"
                msg = "each text encoder needs 'path' (or 'paths') and 'type'"
        elif kind == "pattern":
            msg = f"{shown} does not have the expected form ({sub.get('description') or err.validator_value})"
        elif kind == "uniqueItems":
            msg = "contains the same entry twice"
        else:
            msg = err.message
        yield Finding(ERROR, path, msg, rule, _RULE_SOURCES.get(rule, ""))

    def _structure_findings(self, schema: dict[str, Any], values: Any, path: tuple[Any, ...],
                            root: dict[str, Any] | None = None) -> Iterable[Finding]:
        """Unknown, dead and forbidden keys, and either-or requirements, per table."""
        root = root or schema
        node = deref(root, schema)
        if node is None:
            return
        if isinstance(values, dict):
            props = object_properties(root, node)
            if props is None:
                return
            yield from self._require_one_of(node, values, path)
            mode = node.get("x-dpgui-unknown-keys", "warning")
            if node.get("x-dpgui-compose") == "optimizer" and node.get("$id", "").endswith(
                    f"{FALLBACK_OPTIMIZER}.schema.json"):
                mode = "allow"
            if node.get("x-dpgui-compose") == "optimizer" and "x-dpgui-fallback" in node:
                mode = "allow"
            for key, val in values.items():
                prop = props.get(key)
                if prop is None:
                    if mode != "allow":
                        yield self._unknown(key, path, props, node, mode, values)
                    continue
                prop_r = deref(root, prop) or {}
                if "x-dpgui-forbidden" in prop_r:
                    rule = "no_adapter_alpha" if key == "alpha" else "schema.forbidden"
                    yield Finding(ERROR, path + (key,), prop_r["x-dpgui-forbidden"], rule,
                                  prop_r.get("x-dpgui-source", "train.py:118" if key == "alpha" else ""))
                elif "x-dpgui-deprecated" in prop_r:
                    yield Finding(WARNING, path + (key,), prop_r["x-dpgui-deprecated"],
                                  "deprecated_key", prop_r.get("x-dpgui-source", ""))
                yield from self._structure_findings(prop_r, val, path + (key,), root)
        elif isinstance(values, list):
            items = item_schema(root, node)
            if items is not None:
                for i, val in enumerate(values):
                    if isinstance(val, dict):
                        yield from self._structure_findings(items, val, path + (i,), root)

    def _require_one_of(self, node: dict[str, Any], values: dict[str, Any], path: tuple[Any, ...]) -> Iterable[Finding]:
        groups = node.get("x-dpgui-require-one-of")
        if not groups:
            return
        if any(all(k in values for k in alt) for alt in groups):
            return
        best = max(groups, key=lambda alt: (sum(k in values for k in alt), -groups.index(alt)))
        missing = [k for k in best if k not in values]
        alternatives = " or ".join(
            (alt[0] if len(alt) == 1 else "all of " + ", ".join(alt)) for alt in groups)
        owner = values.get("type") if path == ("model",) else _table_name(path)
        rule = "text_encoder_path_required" if set(missing) <= {"t5_path", "llm_path", "path", "paths"} \
            else "schema.require_one_of"
        for key in missing:
            yield Finding(ERROR, path + (key,), f"{owner} needs {alternatives}", rule,
                          _RULE_SOURCES.get(rule, ""))

    def _unknown(self, key: str, path: tuple[Any, ...], props: dict[str, Any], node: dict[str, Any], mode: str,
                 values: dict[str, Any]) -> Finding:
        severity = ERROR if mode == "error" else WARNING
        hint = did_you_mean(key, list(props))
        elsewhere = self._key_elsewhere(key, path)
        if mode == "error":
            owner = values.get("type", "this optimizer") if path == ("optimizer",) else _table_name(path)
            msg = (f"{owner} does not take '{key}': diffusion-pipe passes every [optimizer] key to "
                   f"the optimizer's constructor, which fails with TypeError after the model has "
                   f"loaded{hint}; remove it")
            rule = "optimizer_kwargs_passthrough" if path == ("optimizer",) else "schema.unknown_key"
            return Finding(severity, path + (key,), msg, rule,
                           "train.py:666" if rule == "optimizer_kwargs_passthrough" else "")
        msg = f"unknown key: diffusion-pipe ignores it{hint or elsewhere}"
        return Finding(severity, path + (key,), msg, "unknown_key")

    def _key_elsewhere(self, key: str, path: tuple[Any, ...]) -> str:
        reg = self.registry
        if path == ("model",):
            users = [t for t in reg.model_types() if key in ((reg.model(t) or {}).get("properties") or {})]
            if users:
                shown = ", ".join(users[:6]) + (", ..." if len(users) > 6 else "")
                return f" (only these model types read it: {shown})"
            if key in (reg.main().get("properties") or {}):
                return f" here; did you mean the top-level key '{key}' (above the [model] table)?"
        if path == ():
            tables = [("model", reg.model(t)) for t in reg.model_types()]
            tables += [("optimizer", reg.optimizer(t)) for t in reg.optimizer_types()]
            tables += [("adapter", reg.adapter(t)) for t in reg.adapter_types()]
            tables.append(("monitoring", reg.monitoring()))
            for table, sch in tables:
                if sch and key in (sch.get("properties") or {}):
                    return f"; did you mean '{table}.{key}' (it belongs in the [{table}] table)?"
        return ""

    def _path_findings(self, schema: dict[str, Any], values: Any, path: tuple[Any, ...], doc: ConfigDocument,
                       options: Options, root: dict[str, Any] | None = None) -> Iterable[Finding]:
        root = root or schema
        node = deref(root, schema)
        if node is None:
            return
        if isinstance(values, dict):
            props = node.get("properties") or {}
            for key, val in values.items():
                if key in props:
                    yield from self._path_findings(props[key], val, path + (key,), doc, options, root)
        elif isinstance(values, list):
            items = node.get("items")
            if isinstance(items, dict):
                for i, val in enumerate(values):
                    yield from self._path_findings(items, val, path + (i,), doc, options, root)
        elif isinstance(values, str):
            fmt = node.get("format") or _branch_format(root, node)
            if fmt in ("file-path", "dir-path", "path") and values.strip():
                found = self.resolve_path(values, doc, options)
                if found is None and placeholders.is_placeholder(values, self.registry):
                    yield Finding(WARNING, path, (
                        f"still the template's placeholder {values!r}: set it to your own "
                        "path"), "template_placeholder")
                elif found is None and options.trainer_cwd is not None and (
                        beside := self.beside_document(values, doc)) is not None:
                    yield Finding(WARNING, path, (
                        f"{values!r} exists next to this file ({beside}), but diffusion-pipe "
                        f"opens relative paths from the folder it runs in "
                        f"({options.trainer_cwd}), where it is missing; make the path "
                        "absolute"), "path_relative_to_checkout", "train.py:393",
                        extra={"absolute": str(beside)})
                elif found is None:
                    if Path(os.path.expanduser(values)).is_absolute():
                        where = ""
                    elif options.trainer_cwd is not None:
                        where = (" (relative paths are read from the diffusion-pipe checkout, "
                                 f"{options.trainer_cwd})")
                    else:
                        where = " (looked next to this config and in the diffusion-pipe checkout)"
                    yield Finding(WARNING, path, (
                        f"not found on this machine{where}: {values!r}; fix it unless it "
                        "exists only where training runs"), "paths_exist", "utils/dataset.py:487")
                elif fmt == "dir-path" and not found.is_dir():
                    yield Finding(WARNING, path, f"{values!r} is a file, but a folder is expected",
                                  "paths_exist")
                elif fmt == "file-path" and found.is_dir() and path[-1] not in ("transformer_path",):
                    yield Finding(WARNING, path, f"{values!r} is a folder, but a file is expected",
                                  "paths_exist")

    def _place(self, findings: list[Finding], doc: ConfigDocument) -> list[Finding]:
        fname = str(doc.path) if doc.path else "<text>"
        typed = {f.path for f in findings if f.file is None and f.message.startswith("expected ")}
        seen = set()
        unique = []
        for f in findings:
            if f.path in typed and not f.message.startswith("expected ") and f.rule.endswith("_enum"):
                continue  # "expected a string" already says it; the enum list adds noise
            key = (f.file, f.path, f.rule, f.message)
            if key not in seen:
                seen.add(key)
                unique.append(f)
        findings[:] = unique
        for f in findings:
            if f.file is None:
                f.file = fname
                f.line, f.col = doc.locate(f.path)
        findings.sort(key=lambda f: (f.file != fname, f.file or "", f.line, f.col,
                                     0 if f.is_error else 1))
        return findings


# ---------------------------------------------------------------- helpers
def _branch_format(root: dict[str, Any], node: dict[str, Any]) -> str | None:
    for alt in node.get("anyOf", []) or []:
        alt = deref(root, alt) or {}
        if alt.get("type") == "string" and alt.get("format"):
            return str(alt["format"])
    return None


def _first_sentence(text: str) -> str:
    from dpgui_qt.core.text import first_sentence

    return first_sentence(text, period=False)


def _table_name(path: tuple[Any, ...]) -> str:
    if not path:
        return "the top level"
    from dpgui_qt.core.config import keypath as kp

    return f"[{kp.format(path)}]"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_ARTICLE = {"boolean": "a boolean", "integer": "an integer", "float": "a float",
            "string": "a string", "array": "an array", "table": "a table", "date": "a date"}


def _type_of(value: Any) -> str:
    kind = tomlcompat.kind_of(value)
    return _ARTICLE.get(kind, kind)


def _type_words(t: str) -> str:
    return {"integer": "an integer", "number": "a number", "string": "a string (in quotes)",
            "boolean": "true or false", "array": "an array [...]", "object": "a table",
            "null": "nothing"}.get(t, t)


def _type_hint(value: Any, want: list[str]) -> str:
    if isinstance(value, str):
        low = value.strip().lower()
        if "boolean" in want and low in ("true", "false"):
            return f"; write {low} without quotes"
        if ("integer" in want or "number" in want):
            try:
                float(value)
                return f"; write {value.strip()} without quotes"
            except ValueError:
                pass
    if isinstance(value, float) and "integer" in want and value.is_integer():
        return f"; write {int(value)} (no decimal point)"
    return ""


def _or(words: Iterable[str | None]) -> str:
    seen: list[str] = []
    for w in words:
        if w and w not in seen:
            seen.append(w)
    if len(seen) <= 1:
        return seen[0] if seen else "a valid value"
    return ", ".join(seen[:-1]) + " or " + seen[-1]


def _describe(alt: Any, root: dict[str, Any]) -> str:
    alt = deref(root, alt) or {}
    if "const" in alt:
        return _show(alt["const"])
    if "enum" in alt:
        return " / ".join(_show(v) for v in alt["enum"])
    if alt.get("title"):
        return str(alt["title"])
    t = alt.get("type")
    if t == "array":
        items = deref(root, alt.get("items")) or {}
        if items.get("type") == "array":
            inner = deref(root, items.get("items")) or {}
            n = items.get("minItems")
            it = "integers" if inner.get("type") == "integer" else "numbers"
            return f"a list of {n or ''}-{it[:-1]} lists like [[512, 4], [1024, 1]]".replace("-integer", " integer").replace("  ", " ")
        if items.get("type") == "object":
            return "an array of tables"
        return f"an array of {(items.get('type') or 'value') + 's'}"
    if isinstance(t, str):
        return _type_words(t)
    if isinstance(t, list):
        return _or(_type_words(x) for x in t)
    return "a valid value"
