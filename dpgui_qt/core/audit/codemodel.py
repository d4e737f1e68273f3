"""A static model of diffusion-pipe's code: its modules, classes and functions, parsed with
:mod:`ast` (nothing is imported or executed), and which values in it hold which config table.

How config tables are recognised (the heuristics, all in this module)
--------------------------------------------------------------------
The analysis is a small flow-insensitive label propagation. A *label* names a config
table: ``main``, ``model``, ``adapter``, ``optimizer``, ``monitoring``, ``dataset``,
``directory`` (one ``[[directory]]`` entry), and nested tables spelled
``<parent>.<key>`` / ``<parent>.<key>[]`` (an item of an array of tables), e.g.
``model.text_encoders[]`` or ``main.eval_datasets[]``.

1. Seeds (``SEEDS``): in ``train.py`` the name ``config`` is the main config (it is what
   ``toml.load(args.config)`` returns and what every helper receives), ``dataset_config`` and
   ``eval_dataset_config`` are dataset configs. No other names are seeded.
2. Reading a string-literal key from a labelled value yields the child label:
   ``config['model']`` is ``model``, ``config.get('monitoring', {})`` is ``monitoring``,
   iterating ``dataset_config['directory']`` yields ``directory`` items (``CANONICAL``
   maps the spelled-out child labels to the table names above).
3. Labels flow through assignments (``=``, ``:=``, ``for`` targets including
   ``enumerate``, comprehensions, ``x or y``, ``a if c else b``), ``.copy()``, ``dict(x)``,
   ``{k: v for k, v in x.items()}``, and ``self.<attr>`` (shared by a class and its in-tree
   base/derived classes).
4. Calls bind argument labels to parameters of in-tree functions: ``f(...)`` and
   ``mod.f(...)`` resolve to module-level functions or classes (``__init__``) named ``f``;
   ``self.m(...)`` to methods ``m`` of the class family; ``super().m(...)`` to ancestors;
   any other ``obj.m(...)`` to every in-tree method ``m`` whose arity fits.
5. A *read* is ``T['k']`` (load context; stores are not reads), ``T.get('k')``,
   ``T.pop('k')``, ``T.setdefault('k')``, and ``'k' in T`` / ``'k' not in T``, where the key
   is a string literal or a loop variable over a literal tuple/list of strings.
6. ``if __name__ == '__main__':`` blocks are skipped everywhere except ``train.py``, whose
   main block *is* the program.
7. Dispatch chains: an ``if``/``elif`` chain whose test compares the ``type`` of a table
   (``T['type']``, a name assigned from it, or its ``.lower()``) with string literals via
   ``==``, ``in (...)`` or ``or``-ed comparisons. For ``[model]`` the branch's ``from models
   import x`` and ``x.SomeClass(...)`` give the module and class; for ``[optimizer]`` the
   ``else`` branch's imported module names the fallback (``pytorch_optimizer``).
8. Per model type, ``[model]`` keys are the reads in code reachable from the dispatched class:
   every method in its MRO (in-tree bases such as ``BasePipeline`` / ``ComfyPipeline``
   included), following ``self.m()`` through that MRO, ``super()``, and calls of in-tree
   module-level functions/classes. ``[model]`` reads in code reachable from no model class
   (``train.py``'s generic handling: ``type``, ``dtype``, ``guidance``...) are *common*: they
   must appear in at least one model schema and never count as "unread" for a type.
9. A table whose dict is consumed wholesale (``T.items()``, ``.keys()``, ``.values()``,
   ``**T``) is *pass-through* (``[optimizer]``: every key becomes a constructor kwarg): its
   schema keys are not reported as unread. For optimizer types implemented in the checkout
   (``optimizers/*.py``) the constructor's keyword parameters are the keys that type reads,
   minus keys ``train.py`` sets itself on the kwargs (stored but never read, e.g. ``mpu``).
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import ast
from dataclasses import dataclass, field
from pathlib import Path

# --------------------------------------------------------------------------- rules

#: Which files are read (globs relative to the checkout).
SCAN_GLOBS = ("train.py", "models/*.py", "models/wan/*.py", "utils/*.py", "optimizers/*.py")

#: Seed names: file -> {variable name: table label}. See module docstring, rule 1.
SEEDS: dict[str, dict[str, str]] = {
    "train.py": {"config": "main", "dataset_config": "dataset", "eval_dataset_config": "dataset"},
}

#: Child labels spelled out by rule 2 -> the table name used in reports and schemas.
CANONICAL = {
    "main.model": "model",
    "main.adapter": "adapter",
    "main.optimizer": "optimizer",
    "main.monitoring": "monitoring",
    "dataset.directory[]": "directory",
}

#: Tables whose ``type`` key selects a schema file (dispatch chains, rule 7).
DISPATCH_TABLES = ("model", "adapter", "optimizer")

_READ_METHODS = {"get", "pop", "setdefault"}
_WHOLESALE_METHODS = {"items", "keys", "values"}


# --------------------------------------------------------------------------- code model


@dataclass
class _Unit:
    """A function or method (nested defs flattened into it), or a module's top-level code."""

    uid: int
    module: "_Module"
    name: str
    cls: "_Class | None"
    node: ast.AST
    params: list[str] = field(default_factory=list)
    required: int = 0  # positional params without default (excluding self)
    vararg: bool = False
    kwarg: bool = False
    is_method: bool = False

    @property
    def where(self) -> str:
        owner = f"{self.cls.name}." if self.cls else ""
        return f"{self.module.rel}:{owner}{self.name}"


@dataclass
class _Class:
    name: str
    module: "_Module"
    node: ast.ClassDef
    base_names: list[str]
    methods: dict[str, _Unit] = field(default_factory=dict)
    bases: list["_Class"] = field(default_factory=list)
    family: int = 0


@dataclass
class _Module:
    rel: str
    tree: ast.Module
    classes: dict[str, _Class] = field(default_factory=dict)
    functions: dict[str, _Unit] = field(default_factory=dict)
    top: _Unit | None = None
    imports: dict[str, str] = field(default_factory=dict)  # alias -> dotted module


@dataclass
class Read:
    table: str
    key: str
    file: str
    line: int
    unit: int

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class DispatchType:
    """One ``type`` value of a dispatch chain."""

    table: str
    name: str
    source: str
    module: str | None = None  # models/flux.py
    cls: str | None = None  # FluxPipeline
    fallback: bool = False  # the else branch (pytorch_optimizer)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"source": self.source}
        if self.module:
            d["module"] = self.module
        if self.cls:
            d["class"] = self.cls
        if self.fallback:
            d["fallback"] = True
        return d


def _is_main_guard(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    t = node.test
    return (
        isinstance(t, ast.Compare)
        and isinstance(t.left, ast.Name)
        and t.left.id == "__name__"
        and len(t.comparators) == 1
        and isinstance(t.comparators[0], ast.Constant)
        and t.comparators[0].value == "__main__"
    )


def _str_const(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def child_label(label: str, key: str) -> str:
    """The label of table ``label``'s sub-table ``key`` (rule 2)."""
    lab = f"{label}.{key}"
    return CANONICAL.get(lab, lab)


def item_label(label: str) -> str:
    """The label of one item of the array of tables ``label``."""
    lab = f"{label}[]"
    return CANONICAL.get(lab, lab)


def _walk_no_defs(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Walk statements/expressions; nested function and class bodies are included
    (they are flattened into their unit), except nested classes."""
    stack = list(nodes)
    while stack:
        n = stack.pop()
        yield n
        for c in ast.iter_child_nodes(n):
            if isinstance(c, ast.ClassDef):
                continue
            stack.append(c)


class Program:
    """The in-tree Python files of a checkout, parsed, with config-table labels propagated
    through them (rules 1-4); reads, dispatch chains and reachability on demand."""

    def __init__(self, root: Path):
        self.root = root
        self.modules: dict[str, _Module] = {}
        self.units: list[_Unit] = []
        self.classes: list[_Class] = []
        self.parse_errors: list[str] = []
        for pattern in SCAN_GLOBS:
            for path in sorted(root.glob(pattern)):
                rel = path.relative_to(root).as_posix()
                if rel in self.modules or not path.is_file():
                    continue
                try:
                    tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=rel)
                except SyntaxError as exc:
                    self.parse_errors.append(f"{rel}: {exc}")
                    continue
                self._add_module(rel, tree)
        self._link_classes()
        self._node_cache: dict[int, list[ast.AST]] = {}
        self._flow_cache: dict[int, list[ast.AST]] = {}
        # labels
        self.scopes: dict[int, dict[str, set[str]]] = {u.uid: {} for u in self.units}
        self.attrs: dict[tuple[int, str], set[str]] = {}
        self.const_keys: dict[int, dict[str, set[str]]] = {u.uid: {} for u in self.units}
        self.type_names: dict[int, dict[str, str]] = {u.uid: {} for u in self.units}
        self._propagate()

    # -- structure -----------------------------------------------------------------
    def _new_unit(self, module: _Module, name: str, cls: _Class | None, node: ast.AST, *,
                  is_method: bool = False) -> _Unit:
        u = _Unit(len(self.units), module, name, cls, node, is_method=is_method)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            pos = [x.arg for x in a.posonlyargs + a.args]
            n_def = len(a.defaults)
            if is_method and pos and not any(
                isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list
            ):
                pos = pos[1:]
            u.params = pos + [x.arg for x in a.kwonlyargs]
            u.required = max(0, len(pos) - n_def)
            u.vararg = a.vararg is not None
            u.kwarg = a.kwarg is not None
        self.units.append(u)
        return u

    def _add_module(self, rel: str, tree: ast.Module) -> None:
        mod = _Module(rel, tree)
        self.modules[rel] = mod
        body: list[ast.stmt] = []
        for stmt in tree.body:
            if _is_main_guard(stmt) and rel != "train.py":
                continue  # rule 6: ad-hoc test harnesses in library modules
            body.append(stmt)
        top_body = []
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                mod.functions[stmt.name] = self._new_unit(mod, stmt.name, None, stmt)
            elif isinstance(stmt, ast.ClassDef):
                self._add_class(mod, stmt)
            else:
                top_body.append(stmt)
        top = ast.Module(body=top_body, type_ignores=[])
        mod.top = self._new_unit(mod, "<module>", None, top)
        for n in ast.walk(tree):
            if isinstance(n, ast.Import):
                for a in n.names:
                    mod.imports[a.asname or a.name.split(".")[0]] = a.name
            elif isinstance(n, ast.ImportFrom) and n.module and not n.level:
                for a in n.names:
                    mod.imports[a.asname or a.name] = f"{n.module}.{a.name}"

    def _add_class(self, mod: _Module, node: ast.ClassDef) -> None:
        bases = []
        for b in node.bases:
            if isinstance(b, ast.Name):
                bases.append(b.id)
            elif isinstance(b, ast.Attribute):
                bases.append(b.attr)
        c = _Class(node.name, mod, node, bases)
        mod.classes.setdefault(node.name, c)
        self.classes.append(c)
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                c.methods[stmt.name] = self._new_unit(mod, stmt.name, c, stmt, is_method=True)

    def _classes_named(self, name: str, prefer: _Module | None = None) -> list[_Class]:
        found = [c for c in self.classes if c.name == name]
        if prefer is not None:
            same = [c for c in found if c.module is prefer]
            if same:
                return same
        return found

    def _link_classes(self) -> None:
        for c in self.classes:
            for b in c.base_names:
                cands = self._classes_named(b, c.module)
                if cands:
                    c.bases.append(cands[0])
        # families: connected components over in-tree inheritance
        parent = list(range(len(self.classes)))
        index = {id(c): i for i, c in enumerate(self.classes)}

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for c in self.classes:
            for base in c.bases:
                parent[find(index[id(c)])] = find(index[id(base)])
        for c in self.classes:
            c.family = find(index[id(c)])

    def mro(self, c: _Class) -> list[_Class]:
        out: list[_Class] = []

        def visit(k: _Class) -> None:
            if k in out:
                return
            out.append(k)
            for b in k.bases:
                visit(b)

        visit(c)
        return out

    def lookup_method(self, c: _Class, name: str, after: _Class | None = None) -> _Unit | None:
        chain = self.mro(c)
        if after is not None and after in chain:
            chain = chain[chain.index(after) + 1:]
        for k in chain:
            if name in k.methods:
                return k.methods[name]
        return None

    def constructor(self, c: _Class) -> _Unit | None:
        return self.lookup_method(c, "__init__")

    # -- call resolution -------------------------------------------------------------
    def _callee_by_name(self, name: str, prefer: _Module) -> list[_Unit]:
        """Module-level function or class constructor named ``name``."""
        if name in prefer.functions:
            return [prefer.functions[name]]
        if name in prefer.classes:
            ctor = self.constructor(prefer.classes[name])
            return [ctor] if ctor else []
        out = []
        for m in self.modules.values():
            if name in m.functions:
                out.append(m.functions[name])
            if name in m.classes:
                ctor = self.constructor(m.classes[name])
                if ctor:
                    out.append(ctor)
        return out

    def resolve_call(self, call: ast.Call, unit: _Unit, *, reach: bool = False,
                     ctx: _Class | None = None) -> list[_Unit]:
        """In-tree functions a call may run. ``reach``: resolve for reachability (rule 8),
        where ``self.m()`` is looked up in the MRO of ``ctx`` (the concrete class) and
        calls on arbitrary objects are not followed."""
        f = call.func
        if isinstance(f, ast.Name):
            if f.id in ("super", "len", "print", "isinstance", "dict", "list", "getattr"):
                return []
            return self._callee_by_name(f.id, unit.module)
        if not isinstance(f, ast.Attribute):
            return []
        meth = f.attr
        recv = f.value
        if isinstance(recv, ast.Call) and isinstance(recv.func, ast.Name) and recv.func.id == "super":
            if unit.cls is None:
                return []
            start = ctx if (reach and ctx is not None) else unit.cls
            m = self.lookup_method(start, meth, after=unit.cls)
            return [m] if m else []
        if isinstance(recv, ast.Name) and recv.id in ("self", "cls") and unit.cls is not None:
            if reach:
                m = self.lookup_method(ctx or unit.cls, meth)
                return [m] if m else []
            return [
                k.methods[meth]
                for k in self.classes
                if k.family == unit.cls.family and meth in k.methods
            ]
        # module attribute: mod.func(...) / pkg.mod.Class(...)
        root = recv
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id in unit.module.imports:
            dotted = unit.module.imports[root.id]
            if dotted.split(".")[0] not in ("models", "utils", "optimizers", "train"):
                return []
            return self._callee_by_name(meth, unit.module) if meth[:1] != "_" else []
        if reach or (meth.startswith("__") and meth.endswith("__")):
            return []
        if meth in _READ_METHODS or meth in _WHOLESALE_METHODS or meth == "copy":
            return []
        return [k.methods[meth] for k in self.classes if meth in k.methods]

    # -- labels ------------------------------------------------------------------------
    def _scope_get(self, unit: _Unit, name: str) -> set[str]:
        out = set(self.scopes[unit.uid].get(name, ()))
        seed = SEEDS.get(unit.module.rel, {}).get(name)
        if seed:
            out.add(seed)
        return out

    def _bind(self, unit: _Unit, name: str, labels: set[str]) -> bool:
        if not labels:
            return False
        cur = self.scopes[unit.uid].setdefault(name, set())
        if labels <= cur:
            return False
        cur |= labels
        return True

    def _bind_attr(self, unit: _Unit, attr: str, labels: set[str]) -> bool:
        if not labels or unit.cls is None:
            return False
        cur = self.attrs.setdefault((unit.cls.family, attr), set())
        if labels <= cur:
            return False
        cur |= labels
        return True

    def keys_of(self, node: ast.AST, unit: _Unit) -> set[str]:
        s = _str_const(node)
        if s is not None:
            return {s}
        if isinstance(node, ast.Name):
            return set(self.const_keys[unit.uid].get(node.id, ()))
        return set()

    def labels(self, node: ast.AST | None, unit: _Unit) -> set[str]:
        if node is None:
            return set()
        if isinstance(node, ast.Name):
            return self._scope_get(unit, node.id)
        if isinstance(node, ast.NamedExpr):
            return self.labels(node.value, unit)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "self" and unit.cls is not None:
                return set(self.attrs.get((unit.cls.family, node.attr), ()))
            return set()
        if isinstance(node, ast.Subscript):
            base = self.labels(node.value, unit)
            keys = self.keys_of(node.slice, unit)
            return {child_label(b, k) for b in base for k in keys}
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute):
                if f.attr in _READ_METHODS and node.args:
                    base = self.labels(f.value, unit)
                    keys = self.keys_of(node.args[0], unit)
                    out = {child_label(b, k) for b in base for k in keys}
                    if len(node.args) > 1:
                        out |= self.labels(node.args[1], unit)
                    return out
                if f.attr == "copy" and not node.args:
                    return self.labels(f.value, unit)
            if isinstance(f, ast.Name) and f.id == "dict" and len(node.args) == 1:
                return self.labels(node.args[0], unit)
            return set()
        if isinstance(node, ast.DictComp):
            g = node.generators[0]
            it = g.iter
            if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr == "items":
                return self.labels(it.func.value, unit)
            return set()
        if isinstance(node, ast.BoolOp):
            either: set[str] = set()
            for v in node.values:
                either |= self.labels(v, unit)
            return either
        if isinstance(node, ast.IfExp):
            return self.labels(node.body, unit) | self.labels(node.orelse, unit)
        return set()

    def _iter_item_labels(self, it: ast.AST, unit: _Unit) -> tuple[set[str], bool]:
        """Labels of the items of an iterable; second value: enumerate() wrapped."""
        if (
            isinstance(it, ast.Call)
            and isinstance(it.func, ast.Name)
            and it.func.id == "enumerate"
            and it.args
        ):
            return {item_label(lab) for lab in self.labels(it.args[0], unit)}, True
        return {item_label(lab) for lab in self.labels(it, unit)}, False

    def _bind_target(self, unit: _Unit, target: ast.AST, labels: set[str]) -> bool:
        if isinstance(target, ast.Name):
            return self._bind(unit, target.id, labels)
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
        ):
            return self._bind_attr(unit, target.attr, labels)
        return False

    def _type_table(self, node: ast.AST, unit: _Unit) -> str | None:
        """If ``node`` is the ``type`` of a dispatch table (rule 7), return that table."""
        if isinstance(node, ast.Name):
            return self.type_names[unit.uid].get(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("lower", "upper", "strip") and not node.args:
                return self._type_table(node.func.value, unit)
        for lab in self.labels(node, unit):
            if lab.endswith(".type"):
                tab = lab[: -len(".type")]
                if tab in DISPATCH_TABLES:
                    return tab
        return None

    def _propagate(self) -> None:
        for _ in range(50):
            changed = False
            for unit in self.units:
                changed |= self._propagate_unit(unit)
            if not changed:
                return

    def _body(self, unit: _Unit) -> list[ast.stmt]:
        return unit.node.body  # type: ignore[attr-defined, no-any-return]  # a def or a module

    def nodes(self, unit: _Unit) -> list[ast.AST]:
        """All nodes of a unit (nested defs flattened), walked once and cached."""
        cached = self._node_cache.get(unit.uid)
        if cached is None:
            cached = self._node_cache[unit.uid] = list(_walk_no_defs(self._body(unit)))
        return cached

    def flow_nodes(self, unit: _Unit) -> list[ast.AST]:
        """The nodes label propagation looks at."""
        cached = self._flow_cache.get(unit.uid)
        if cached is None:
            kinds = (ast.Assign, ast.AnnAssign, ast.NamedExpr, ast.For, ast.AsyncFor,
                     ast.comprehension, ast.Call)
            cached = self._flow_cache[unit.uid] = [n for n in self.nodes(unit) if isinstance(n, kinds)]
        return cached

    def _propagate_unit(self, unit: _Unit) -> bool:
        changed = False
        for n in self.flow_nodes(unit):
            if isinstance(n, ast.Assign):
                labs = self.labels(n.value, unit)
                for t in n.targets:
                    changed |= self._bind_target(unit, t, labs)
                    if isinstance(t, ast.Name):
                        tt = self._type_table(n.value, unit)
                        if tt and self.type_names[unit.uid].get(t.id) != tt:
                            self.type_names[unit.uid][t.id] = tt
                            changed = True
            elif isinstance(n, ast.AnnAssign) and n.value is not None:
                changed |= self._bind_target(unit, n.target, self.labels(n.value, unit))
            elif isinstance(n, ast.NamedExpr):
                changed |= self._bind_target(unit, n.target, self.labels(n.value, unit))
                tt = self._type_table(n.value, unit)
                if tt and self.type_names[unit.uid].get(n.target.id) != tt:
                    self.type_names[unit.uid][n.target.id] = tt
                    changed = True
            elif isinstance(n, (ast.For, ast.AsyncFor, ast.comprehension)):
                it = n.iter
                if isinstance(it, (ast.Tuple, ast.List)) and isinstance(n.target, ast.Name):
                    ks = {s for s in (_str_const(e) for e in it.elts) if s is not None}
                    if ks:
                        cur = self.const_keys[unit.uid].setdefault(n.target.id, set())
                        if not ks <= cur:
                            cur |= ks
                            changed = True
                    continue
                labs, enum = self._iter_item_labels(it, unit)
                target = n.target
                if enum and isinstance(target, ast.Tuple) and len(target.elts) == 2:
                    target = target.elts[1]
                changed |= self._bind_target(unit, target, labs)
            elif isinstance(n, ast.Call):
                changed |= self._propagate_call(n, unit)
        return changed

    def _propagate_call(self, call: ast.Call, unit: _Unit) -> bool:
        arg_labels = [self.labels(a, unit) for a in call.args]
        kw_labels = {k.arg: self.labels(k.value, unit) for k in call.keywords if k.arg}
        if not any(arg_labels) and not any(kw_labels.values()):
            return False
        if any(isinstance(a, ast.Starred) for a in call.args):
            return False
        changed = False
        for callee in self.resolve_call(call, unit):
            n_pos = len(callee.params) - len(callee.node.args.kwonlyargs)  # type: ignore[attr-defined]
            if len(call.args) > n_pos and not callee.vararg:
                continue
            if len(call.args) + len(kw_labels) < callee.required:
                continue
            if any(k not in callee.params for k in kw_labels) and not callee.kwarg:
                continue
            for i, labs in enumerate(arg_labels):
                if i < n_pos and labs:
                    changed |= self._bind(callee, callee.params[i], labs)
            for k, labs in kw_labels.items():
                if k in callee.params and labs:
                    changed |= self._bind(callee, k, labs)
        return changed

    # -- reads ---------------------------------------------------------------------
    def collect_reads(self) -> tuple[list[Read], set[str], dict[str, set[str]]]:
        """All reads; tables consumed wholesale; keys stored (not read) per table."""
        reads: list[Read] = []
        wholesale: set[str] = set()
        stored: dict[str, set[str]] = {}
        for unit in self.units:
            rel = unit.module.rel
            for n in self.nodes(unit):
                if isinstance(n, ast.Subscript):
                    labs = self.labels(n.value, unit)
                    if not labs:
                        continue
                    keys = self.keys_of(n.slice, unit)
                    if isinstance(n.ctx, ast.Store):
                        for lab in labs:
                            stored.setdefault(lab, set()).update(keys)
                        continue
                    if isinstance(n.ctx, ast.Load):
                        for lab in labs:
                            for k in keys:
                                reads.append(Read(lab, k, rel, n.lineno, unit.uid))
                elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
                    if n.func.attr in _READ_METHODS and n.args:
                        keys = self.keys_of(n.args[0], unit)
                        for lab in self.labels(n.func.value, unit):
                            for k in keys:
                                reads.append(Read(lab, k, rel, n.lineno, unit.uid))
                    elif n.func.attr in _WHOLESALE_METHODS and not n.args:
                        wholesale |= self.labels(n.func.value, unit)
                elif isinstance(n, ast.Compare):
                    left = n.left
                    for op, right in zip(n.ops, n.comparators):
                        if isinstance(op, (ast.In, ast.NotIn)):
                            keys = self.keys_of(left, unit)
                            for lab in self.labels(right, unit):
                                for k in keys:
                                    reads.append(Read(lab, k, rel, n.lineno, unit.uid))
                        left = right
                elif isinstance(n, ast.Starred):
                    pass
                elif isinstance(n, ast.keyword) and n.arg is None:
                    wholesale |= self.labels(n.value, unit)
                elif isinstance(n, ast.Dict):
                    for key_node, value_node in zip(n.keys, n.values):
                        if key_node is None:
                            wholesale |= self.labels(value_node, unit)
        return reads, wholesale, stored

    # -- dispatch chains -------------------------------------------------------------
    def _test_types(self, test: ast.AST, unit: _Unit) -> tuple[str | None, list[str]]:
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
            table, names = None, []
            for v in test.values:
                t, ns = self._test_types(v, unit)
                if t is None or (table is not None and t != table):
                    return None, []
                table = t
                names += ns
            return table, names
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            op, right = test.ops[0], test.comparators[0]
            table = self._type_table(test.left, unit)
            if table is None:
                return None, []
            if isinstance(op, ast.Eq) and _str_const(right) is not None:
                return table, [_str_const(right)]  # type: ignore[list-item]
            if isinstance(op, ast.In) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
                consts = [_str_const(e) for e in right.elts]
                strings = [x for x in consts if x is not None]
                if consts and len(strings) == len(consts):
                    return table, strings
        return None, []

    def dispatch(self) -> list[DispatchType]:
        out: list[DispatchType] = []
        seen: set[int] = set()
        for unit in self.units:
            for n in self.nodes(unit):
                if not isinstance(n, ast.If) or id(n) in seen:
                    continue
                table, _ = self._test_types(n.test, unit)
                if table is None:
                    continue
                node: ast.AST | None = n
                while isinstance(node, ast.If):
                    seen.add(id(node))
                    t, names = self._test_types(node.test, unit)
                    if t != table:
                        break
                    module, cls = self._branch_target(node.body, unit)
                    for name in names:
                        out.append(DispatchType(table, name, f"{unit.module.rel}:{node.lineno}", module, cls))
                    orelse = node.orelse
                    if len(orelse) == 1 and isinstance(orelse[0], ast.If):
                        node = orelse[0]
                        continue
                    if orelse and table == "optimizer":
                        fb = self._fallback_name(orelse)
                        if fb:
                            out.append(DispatchType(table, fb, f"{unit.module.rel}:{orelse[0].lineno}", fallback=True))
                    node = None
        return out

    def _fallback_name(self, body: list[ast.stmt]) -> str | None:
        for n in _walk_no_defs(body):
            if isinstance(n, ast.Import):
                return n.names[0].name.split(".")[0]
            if isinstance(n, ast.ImportFrom) and n.module and not n.level:
                return n.module.split(".")[0]
        return None

    def _branch_target(self, body: list[ast.stmt], unit: _Unit) -> tuple[str | None, str | None]:
        """Module file and class a dispatch branch instantiates (in-tree only)."""
        local: dict[str, str] = {}
        for n in _walk_no_defs(body):
            if isinstance(n, ast.ImportFrom) and n.module and not n.level:
                for a in n.names:
                    local[a.asname or a.name] = f"{n.module}.{a.name}"
            elif isinstance(n, ast.Import):
                for a in n.names:
                    local[a.asname or a.name] = a.name
        for n in _walk_no_defs(body):
            ref = None
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in local:
                ref = (local[n.value.id], n.attr)
            elif isinstance(n, ast.Name) and n.id in local and "." in local[n.id]:
                dotted = local[n.id]
                ref = (dotted.rsplit(".", 1)[0], dotted.rsplit(".", 1)[1])
            if ref is None:
                continue
            dotted, cls_name = ref
            rel = dotted.replace(".", "/") + ".py"
            mod = self.modules.get(rel)
            if mod is not None and cls_name in mod.classes:
                return rel, cls_name
        # a module imported but its class not found (e.g. module file missing)
        for dotted in local.values():
            rel = dotted.replace(".", "/") + ".py"
            if (self.root / rel).exists() or dotted.split(".")[0] in ("models", "optimizers"):
                return rel, None
        return None, None

    # -- reachability (rule 8) ------------------------------------------------------
    def reachable_from_class(self, c: _Class) -> set[int]:
        seen: set[int] = set()
        stack: list[_Unit] = []
        names = {m for k in self.mro(c) for m in k.methods}
        for name in names:
            m = self.lookup_method(c, name)
            if m is not None:
                stack.append(m)
        while stack:
            u = stack.pop()
            if u.uid in seen:
                continue
            seen.add(u.uid)
            # methods inherited by c run with self being a c; other classes' methods
            # run with their own class
            ctx = c if (u.cls is not None and u.cls in self.mro(c)) else u.cls
            for n in self.nodes(u):
                if isinstance(n, ast.Call):
                    for callee in self.resolve_call(n, u, reach=True, ctx=ctx):
                        if callee.uid not in seen:
                            stack.append(callee)
        return seen
