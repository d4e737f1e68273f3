"""Cross-field rules: diffusion-pipe's checks that JSON Schema cannot express well.

Each rule has an id (the catalog's constraint id where there is one), the
diffusion-pipe source line it mirrors, and messages that say what to change.
Rules see plain values (no tomlkit), so they are cheap and easy to test.
``schemas/RULES.md`` lists the catalog constraints that cannot be decided from
the config files alone, and why.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from dpgui_qt.core.config.document import DocKind
from dpgui_qt.core.config.findings import ERROR, WARNING, Finding


RuleFn = Callable[["RuleContext"], Iterable[Finding]]


@dataclass
class Rule:
    id: str
    kind: DocKind
    source: str
    fn: RuleFn
    summary: str


RULES: list[Rule] = []


def rule(rule_id: str, kind: DocKind, source: str, summary: str) -> Callable[[RuleFn], RuleFn]:
    def wrap(fn: RuleFn) -> RuleFn:
        RULES.append(Rule(rule_id, kind, source, fn, summary))
        return fn
    return wrap


@dataclass
class RuleContext:
    kind: DocKind
    values: dict[str, Any]
    registry: Any
    schema: dict[str, Any]
    model_type: str | None = None
    options: Any = None
    main_values: dict[str, Any] | None = None  # for dataset rules reached through a main config
    _rule: Rule | None = field(default=None, repr=False)

    @property
    def caps(self) -> dict[str, Any]:
        return self.registry.capabilities(self.model_type) if self.model_type else {}

    @property
    def num_gpus(self) -> int | None:
        return getattr(self.options, "num_gpus", None)

    def error(self, path: tuple[Any, ...], message: str, source: str | None = None) -> Finding:
        assert self._rule is not None  # set by run_rules while the rule runs
        return Finding(ERROR, tuple(path), message, self._rule.id,
                       source if source is not None else self._rule.source)

    def warning(self, path: tuple[Any, ...], message: str, source: str | None = None) -> Finding:
        assert self._rule is not None  # set by run_rules while the rule runs
        return Finding(WARNING, tuple(path), message, self._rule.id,
                       source if source is not None else self._rule.source)


def run_rules(ctx: RuleContext) -> list[Finding]:
    out: list[Finding] = []
    for r in RULES:
        if r.kind != ctx.kind:
            continue
        ctx._rule = r
        out.extend(r.fn(ctx))
    ctx._rule = None
    return out


# ----------------------------------------------------------------- helpers
def _table(values: dict[str, Any], name: str) -> dict[str, Any]:
    v = values.get(name)
    return v if isinstance(v, dict) else {}


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _num(v: Any) -> float | None:
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def first_micro_batch(value: Any) -> int | None:
    """``micro_batch_size_per_gpu`` as int; the pair form's first batch counts."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, list) and value and isinstance(value[0], list) and len(value[0]) == 2:
        return _int(value[0][1])
    return None


def global_batch(main: dict[str, Any], num_gpus: int | None = None) -> int | None:
    """micro batch x gradient accumulation x data-parallel size (GPUs / pipeline stages).

    With the GPU count unknown, the smallest possible value (data parallel = 1).
    """
    mbs = first_micro_batch(main.get("micro_batch_size_per_gpu", 1))
    gas = _int(main.get("gradient_accumulation_steps", 1))
    stages = _int(main.get("pipeline_stages", 1)) or 1
    if mbs is None or gas is None or mbs < 1 or gas < 1:
        return None
    dp = 1
    if num_gpus and num_gpus % stages == 0:
        dp = num_gpus // stages
    return mbs * gas * dp


# ================================================================= main rules
@rule("save_interval_required", DocKind.MAIN, "train.py:95",
      "one of save_every_n_epochs / _steps / _examples must be set")
def _save_interval(ctx: RuleContext) -> Iterator[Finding]:
    keys = ("save_every_n_epochs", "save_every_n_steps", "save_every_n_examples")
    if not any(k in ctx.values for k in keys):
        yield ctx.error(("save_every_n_epochs",),
                        "no save interval is set, so diffusion-pipe stops at start-up "
                        "(AssertionError); set save_every_n_epochs (e.g. 1), save_every_n_steps "
                        "or save_every_n_examples")


@rule("adapter_type_model_support", DocKind.MAIN, "models/sdxl.py:458; models/flux.py:236",
      "LoKr is not available for flux and sdxl")
def _adapter_support(ctx: RuleContext) -> Iterator[Finding]:
    adapter = _table(ctx.values, "adapter")
    atype = adapter.get("type")
    if not ctx.model_type or not isinstance(atype, str):
        return
    caps = ctx.caps
    if atype in ("lora", "lokr") and caps.get(atype) is False:
        when = ("when the model is set up" if ctx.model_type == "sdxl"
                else "at the first save, after training time was spent")
        yield ctx.error(("adapter", "type"),
                        f"{ctx.model_type} cannot train a {atype.upper()} adapter "
                        f"(diffusion-pipe raises NotImplementedError {when}); use type = 'lora'")


@rule("fft_unsupported_models", DocKind.MAIN, "models/base.py:394",
      "full fine-tune only for models that can save full weights")
def _fft(ctx: RuleContext) -> Iterator[Finding]:
    if not ctx.model_type or "adapter" in ctx.values:
        return
    if ctx.caps.get("full_finetune") is False:
        yield ctx.error(("adapter",),
                        f"without an [adapter] table this is a full fine-tune, which {ctx.model_type} "
                        "cannot save (NotImplementedError at the first save, after training time "
                        "was spent); add [adapter] with type = 'lora' and a rank")


@rule("block_swap_requirements", DocKind.MAIN, "train.py:577; models/base.py:439",
      "blocks_to_swap needs pipeline_stages = 1, an adapter and a model with block swap")
def _block_swap(ctx: RuleContext) -> Iterator[Finding]:
    n = _int(ctx.values.get("blocks_to_swap"))
    if not n or n <= 0:
        return
    path = ("blocks_to_swap",)
    stages = ctx.values.get("pipeline_stages", 1)
    if stages != 1:
        yield ctx.error(path, f"block swapping needs pipeline_stages = 1 (it is {stages}); "
                              "set pipeline_stages = 1 or blocks_to_swap = 0")
    if "adapter" not in ctx.values:
        yield ctx.error(path, "block swapping works only with an adapter (LoRA/LoKr), not a full "
                              "fine-tune; add an [adapter] table or set blocks_to_swap = 0")
    if ctx.model_type and ctx.caps.get("block_swap") is False:
        yield ctx.error(path, f"{ctx.model_type} does not support block swapping "
                              "(NotImplementedError after the model loads); remove blocks_to_swap")


@rule("block_swap_max", DocKind.MAIN, "models/wan/wan.py:392; models/flux.py:418",
      "blocks_to_swap must stay under the model's limit")
def _block_swap_max(ctx: RuleContext) -> Iterator[Finding]:
    n = _int(ctx.values.get("blocks_to_swap"))
    if not n or n <= 0 or not ctx.model_type:
        return
    caps = ctx.caps
    limit = caps.get("block_swap_max")
    if caps.get("block_swap") and isinstance(limit, int) and n > limit:
        yield ctx.error(("blocks_to_swap",),
                        f"{ctx.model_type} can swap at most {limit} blocks "
                        f"(AssertionError after the model loads); use blocks_to_swap <= {limit}")


@rule("partition_manual", DocKind.MAIN, "utils/pipeline.py:21",
      "partition_method = 'manual' needs pipeline_stages - 1 split points")
def _partition(ctx: RuleContext) -> Iterator[Finding]:
    if ctx.values.get("partition_method") != "manual":
        return
    stages = _int(ctx.values.get("pipeline_stages", 1)) or 1
    split = ctx.values.get("partition_split")
    if not isinstance(split, list):
        yield ctx.error(("partition_split",),
                        f"partition_method = 'manual' needs partition_split with {stages - 1} "
                        "layer indexes (one per boundary between pipeline stages)")
    elif len(split) != stages - 1:
        yield ctx.error(("partition_split",),
                        f"has {len(split)} entries but pipeline_stages = {stages} needs exactly "
                        f"{stages - 1}")


@rule("world_size_divisible", DocKind.MAIN, "deepspeed runtime/pipe/module.py:175",
      "the GPU count must be a multiple of pipeline_stages")
def _world(ctx: RuleContext) -> Iterator[Finding]:
    stages = _int(ctx.values.get("pipeline_stages", 1)) or 1
    if ctx.num_gpus and ctx.num_gpus % stages:
        yield ctx.error(("pipeline_stages",),
                        f"{ctx.num_gpus} GPU(s) cannot be split into {stages} pipeline stages; "
                        f"use a GPU count that is a multiple of {stages}, or change pipeline_stages")


@rule("gradient_release_dp1", DocKind.MAIN, "train.py:714",
      "gradient_release needs one data-parallel group (GPUs == pipeline_stages)")
def _grad_release_dp(ctx: RuleContext) -> Iterator[Finding]:
    if _table(ctx.values, "optimizer").get("gradient_release") is not True:
        return
    stages = _int(ctx.values.get("pipeline_stages", 1)) or 1
    if ctx.num_gpus and ctx.num_gpus != stages:
        yield ctx.error(("optimizer", "gradient_release"),
                        f"gradient release needs pipeline_stages equal to the GPU count "
                        f"({ctx.num_gpus}); set pipeline_stages = {ctx.num_gpus} or turn it off")


@rule("gradient_release_lr_keyerror", DocKind.MAIN, "train.py:745; models/base.py:415",
      "gradient_release only works for models with per-group learning rates")
def _grad_release_lr(ctx: RuleContext) -> Iterator[Finding]:
    opt = _table(ctx.values, "optimizer")
    if opt.get("gradient_release") is not True or not ctx.model_type:
        return
    if ctx.model_type not in ("sdxl", "cosmos_predict2", "anima"):
        yield ctx.error(("optimizer", "gradient_release"),
                        f"with {ctx.model_type}, diffusion-pipe's gradient release fails while "
                        "building the optimizer (KeyError: 'lr': this model's parameter groups "
                        "carry no learning rate); remove gradient_release")
    elif "lr" not in opt:
        yield ctx.error(("optimizer", "lr"),
                        "gradient release takes each group's learning rate from optimizer.lr; set lr")


@rule("beta2_half_life_betas", DocKind.MAIN, "train.py:660",
      "beta2_half_life needs betas with exactly two values")
def _beta2(ctx: RuleContext) -> Iterator[Finding]:
    opt = _table(ctx.values, "optimizer")
    if "beta2_half_life" not in opt:
        return
    betas = opt.get("betas")
    if not isinstance(betas, list) or len(betas) != 2:
        yield ctx.error(("optimizer", "betas"),
                        "beta2_half_life recomputes the second beta, so betas must be set with "
                        "exactly two values, e.g. betas = [0.9, 0.99]")


@rule("genericoptim_checks", DocKind.MAIN, "optimizers/generic_optim.py:326",
      "GenericOptim argument checks")
def _generic(ctx: RuleContext) -> Iterator[Finding]:
    opt = _table(ctx.values, "optimizer")
    if str(opt.get("type", "")).lower() != "genericoptim":
        return
    lr = _num(opt.get("lr"))
    if lr is not None and lr < 0:
        yield ctx.error(("optimizer", "lr"), "must not be negative")
    betas = opt.get("betas")
    if isinstance(betas, list) and len(betas) >= 2:
        b1, b2 = _num(betas[0]), _num(betas[1])
        if b1 is not None and not 0 <= b1 < 1:
            yield ctx.error(("optimizer", "betas"), "the first beta must be in [0, 1)")
        if b2 is not None and not 0 <= b2 <= 1:
            yield ctx.error(("optimizer", "betas"), "the second beta must be in [0, 1]")
    eps = _num(opt.get("eps"))
    if eps is not None and eps < 0:
        yield ctx.error(("optimizer", "eps"), "must not be negative")
    muons = [k for k in ("muon", "adamuon", "normuon") if opt.get(k) is True]
    if len(muons) > 1:
        yield ctx.error(("optimizer", muons[1]),
                        f"turn on at most one of muon, adamuon, normuon (found {', '.join(muons)})")
    if ("rank" in opt) != ("update_proj_gap" in opt):
        missing = "update_proj_gap" if "rank" in opt else "rank"
        yield ctx.error(("optimizer", missing),
                        "rank and update_proj_gap go together; set both or neither")
    if opt.get("momentum_type") == "sm" and "rank" not in opt:
        yield ctx.error(("optimizer", "rank"),
                        "momentum_type = 'sm' needs rank (and update_proj_gap)")


@rule("pytorch_optimizer_name", DocKind.MAIN, "train.py:700",
      "other optimizer types must be exact pytorch_optimizer class names")
def _po_name(ctx: RuleContext) -> Iterator[Finding]:
    otype = _table(ctx.values, "optimizer").get("type")
    if not isinstance(otype, str) or ctx.registry.optimizer_key(otype) != "pytorch_optimizer":
        return
    schema = ctx.registry.optimizer(otype) or {}
    known = schema.get("x-dpgui-known-classes", {})
    names = known.get("names", [])
    if not names or otype in names:
        return
    by_lower = {n.lower(): n for n in names}
    if otype.lower() in by_lower:
        right = by_lower[otype.lower()]
        yield ctx.error(("optimizer", "type"),
                        f"pytorch_optimizer class names are case-sensitive: write '{right}', not "
                        f"'{otype}' (AttributeError after caching and model loading otherwise)")
        return
    import difflib

    close = difflib.get_close_matches(otype, names, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    builtin = ", ".join(ctx.registry.optimizer_types())
    yield ctx.warning(("optimizer", "type"),
                      f"'{otype}' is neither a built-in optimizer ({builtin}) nor a class of "
                      f"pytorch_optimizer {known.get('version', '')}{hint} "
                      "(check the name if your trainer has that version or older)")


@rule("minimax_cfg_pipeline", DocKind.MAIN, "models/minimax_h3.py:214",
      "minimax_h3 with cfg > 1 needs pipeline_stages = 1")
def _minimax(ctx: RuleContext) -> Iterator[Finding]:
    if ctx.model_type != "minimax_h3":
        return
    cfg = _num(_table(ctx.values, "model").get("cfg", 1.0))
    stages = ctx.values.get("pipeline_stages", 1)
    if cfg is not None and cfg > 1 and stages != 1:
        yield ctx.error(("model", "cfg"),
                        f"cfg > 1 needs pipeline_stages = 1 (it is {stages}); lower cfg to 1 or "
                        "use one pipeline stage")


@rule("save_examples_vs_batch", DocKind.MAIN, "train.py:644; utils/saver.py:165",
      "*_every_n_examples must be at least the global batch size")
def _examples(ctx: RuleContext) -> Iterator[Finding]:
    gb = global_batch(ctx.values, ctx.num_gpus)
    if not gb:
        return
    exact = ctx.num_gpus is not None
    for key, what in (("save_every_n_examples", "save_every_n_steps"),
                      ("eval_every_n_examples", "eval_every_n_steps")):
        n = _int(ctx.values.get(key))
        if n is not None and n < gb:
            size = f"{gb}" if exact else f"at least {gb}"
            yield ctx.error((key,),
                            f"{n} is smaller than the global batch size ({size}), so {what} "
                            f"becomes 0 and training crashes at the first step; use a multiple "
                            f"of the global batch, e.g. {gb * max(1, round(n / gb) or 1)}")


@rule("wandb_fields", DocKind.MAIN, "train.py:563",
      "W&B needs its api key, tracker name and run name")
def _wandb(ctx: RuleContext) -> Iterator[Finding]:
    mon = _table(ctx.values, "monitoring")
    if mon.get("enable_wandb") is not True:
        return
    for key in ("wandb_api_key", "wandb_tracker_name", "wandb_run_name"):
        if not mon.get(key):
            yield ctx.error(("monitoring", key),
                            f"enable_wandb = true needs {key} (KeyError at start-up otherwise); "
                            "set it or turn enable_wandb off")


@rule("fuse_adapters_models", DocKind.MAIN, "models/flux.py; models/chroma.py",
      "fuse_adapters is read by flux and chroma only")
def _fuse(ctx: RuleContext) -> Iterator[Finding]:
    adapter = _table(ctx.values, "adapter")
    if "fuse_adapters" in adapter and ctx.model_type and ctx.model_type not in ("flux", "chroma"):
        yield ctx.warning(("adapter", "fuse_adapters"),
                          f"{ctx.model_type} ignores fuse_adapters (only flux and chroma read it)")


@rule("dtype_family", DocKind.MAIN, "train.py:108,110",
      "each model family reads only its own dtype key")
def _dtype_family(ctx: RuleContext) -> Iterator[Finding]:
    # the unknown-key pass already warns; this adds the precise fix
    model = _table(ctx.values, "model")
    props = (ctx.registry.model(ctx.model_type) or {}).get("properties", {}) if ctx.model_type else {}
    for wrong, right in (("transformer_dtype", "diffusion_model_dtype"),
                         ("diffusion_model_dtype", "transformer_dtype")):
        if wrong in model and wrong not in props and right in props:
            yield ctx.warning(("model", wrong),
                              f"{ctx.model_type} reads {right}, not {wrong}, so this setting has "
                              f"no effect; rename it to {right}")


@rule("video_clip_mode_models", DocKind.MAIN, "models/base.py:131",
      "video_clip_mode only matters for video models")
def _clip_mode(ctx: RuleContext) -> Iterator[Finding]:
    if "video_clip_mode" in ctx.values and ctx.model_type and ctx.caps.get("video") is False:
        yield ctx.warning(("video_clip_mode",),
                          f"{ctx.model_type} is an image model; video_clip_mode has no effect")


@rule("block_swap_eval_flag", DocKind.MAIN, "train.py",
      "disable_block_swap_for_eval without block swapping does nothing")
def _bs_eval(ctx: RuleContext) -> Iterator[Finding]:
    if ctx.values.get("disable_block_swap_for_eval") is True and not ctx.values.get("blocks_to_swap"):
        yield ctx.warning(("disable_block_swap_for_eval",),
                          "has no effect while blocks_to_swap is 0 or unset")


@rule("eval_interval_without_datasets", DocKind.MAIN, "train.py:140",
      "eval intervals need eval_datasets")
def _eval_no_datasets(ctx: RuleContext) -> Iterator[Finding]:
    keys = [k for k in ("eval_every_n_epochs", "eval_every_n_steps", "eval_every_n_examples")
            if k in ctx.values]
    if keys and not ctx.values.get("eval_datasets"):
        yield ctx.warning((keys[0],), "no eval_datasets are configured, so no eval runs; "
                                      "add eval_datasets or remove this key")


# ============================================================== dataset rules
def _directories(ctx: RuleContext) -> list[tuple[int, dict[str, Any]]]:
    dirs = ctx.values.get("directory")
    if not isinstance(dirs, list):
        return []
    return [(i, d) for i, d in enumerate(dirs) if isinstance(d, dict)]


def _effective(ctx: RuleContext, d: dict[str, Any], key: str, default: Any = None) -> Any:
    if key in d:
        return d[key]
    return ctx.values.get(key, default)


@rule("eager_dataset_defaults", DocKind.DATASET, "utils/dataset.py:469,502",
      "top-level resolutions (and AR range keys) are read even when directories set their own")
def _eager(ctx: RuleContext) -> Iterator[Finding]:
    need_res: list[int] = []
    need_ar: list[int] = []
    for i, d in _directories(ctx):
        if _effective(ctx, d, "size_buckets") is not None:
            continue
        need_res.append(i)
        if _effective(ctx, d, "enable_ar_bucket", False) and not _effective(ctx, d, "ar_buckets"):
            need_ar.append(i)
    if need_res and "resolutions" not in ctx.values:
        yield ctx.error(("resolutions",),
                        "a top-level resolutions list is required (diffusion-pipe reads it even "
                        "when every [[directory]] sets its own, KeyError otherwise); add e.g. "
                        "resolutions = [512]")
    if need_ar:
        for key, example in (("min_ar", "0.5"), ("max_ar", "2.0"), ("num_ar_buckets", "7")):
            if key not in ctx.values:
                yield ctx.error((key,),
                                f"aspect-ratio bucketing without ar_buckets needs a top-level {key} "
                                f"(diffusion-pipe reads it even if directories set it; KeyError "
                                f"otherwise); add e.g. {key} = {example}, or set ar_buckets")


@rule("too_many_resolutions", DocKind.DATASET, "utils/dataset.py:526",
      "more than 3 resolutions quits before training (with exit status 0)")
def _many_res(ctx: RuleContext) -> Iterator[Finding]:
    top = ctx.values.get("resolutions")
    if isinstance(top, list) and len(top) > 3:
        yield ctx.error(("resolutions",),
                        f"{len(top)} resolutions: diffusion-pipe refuses more than 3 and quits "
                        "with exit status 0 before training (it looks like success); keep at "
                        "most 3, or launch with --i_know_what_i_am_doing")
    for i, d in _directories(ctx):
        res = d.get("resolutions")
        if isinstance(res, list) and len(res) > 3:
            yield ctx.error(("directory", i, "resolutions"),
                            f"{len(res)} resolutions: diffusion-pipe refuses more than 3 and "
                            "quits with exit status 0; keep at most 3, or launch with "
                            "--i_know_what_i_am_doing")


@rule("cosmos_size_buckets", DocKind.DATASET, "models/cosmos.py:125,187",
      "cosmos datasets use size_buckets only")
def _cosmos(ctx: RuleContext) -> Iterator[Finding]:
    if ctx.model_type != "cosmos":
        return
    banned = ("resolutions", "min_ar", "max_ar", "num_ar_buckets")
    if "size_buckets" not in ctx.values:
        yield ctx.error(("size_buckets",), "cosmos needs size_buckets in the dataset config "
                                           "(it quits before training otherwise)")
    for key in banned:
        if key in ctx.values:
            yield ctx.error((key,), f"cosmos does not accept {key}; use size_buckets instead")
    for i, d in _directories(ctx):
        if "size_buckets" not in d:
            yield ctx.error(("directory", i, "size_buckets"),
                            "cosmos checks every [[directory]] for its own size_buckets and quits "
                            "without them; copy the dataset's size_buckets here")
        for key in banned:
            if key in d:
                yield ctx.error(("directory", i, key),
                                f"cosmos does not accept {key}; use size_buckets instead")


@rule("control_path_models", DocKind.DATASET, "utils/dataset.py:1249",
      "control_path (edit datasets) only for flux, flux2 and qwen_image")
def _control(ctx: RuleContext) -> Iterator[Finding]:
    if not ctx.model_type:
        return
    if ctx.caps.get("edit_dataset") is True:
        return
    for i, d in _directories(ctx):
        if "control_path" in d:
            yield ctx.error(("directory", i, "control_path"),
                            f"{ctx.model_type} cannot train on edit (control image) datasets; "
                            "remove control_path or use flux (Kontext), flux2 or qwen_image")


@rule("frame_buckets_models", DocKind.DATASET, "utils/dataset.py",
      "frame buckets matter only for video models")
def _frames(ctx: RuleContext) -> Iterator[Finding]:
    if not ctx.model_type or ctx.caps.get("video") is not False:
        return
    fb = ctx.values.get("frame_buckets")
    if isinstance(fb, list) and any(isinstance(x, int) and x > 1 for x in fb):
        yield ctx.warning(("frame_buckets",),
                          f"{ctx.model_type} is an image model; frame buckets above 1 are unused")


@rule("ar_range_order", DocKind.DATASET, "utils/dataset.py:502",
      "min_ar must not exceed max_ar")
def _ar_order(ctx: RuleContext) -> Iterator[Finding]:
    def check(path: tuple[Any, ...], table: Any) -> Iterator[Finding]:
        lo, hi = _num(table.get("min_ar")), _num(table.get("max_ar"))
        if lo is not None and hi is not None and lo > hi:
            yield ctx.error(path + ("min_ar",), f"min_ar ({lo}) is larger than max_ar ({hi}); swap them")
    yield from check((), ctx.values)
    for i, d in _directories(ctx):
        yield from check(("directory", i), d)


@rule("duplicate_directories", DocKind.DATASET, "utils/dataset.py",
      "the same folder twice is trained twice")
def _dupes(ctx: RuleContext) -> Iterator[Finding]:
    seen: dict[str, int] = {}
    for i, d in _directories(ctx):
        p = d.get("path")
        if isinstance(p, str):
            key = p.rstrip("/\\")
            if key in seen:
                yield ctx.warning(("directory", i, "path"),
                                  f"the same folder as directory[{seen[key]}]; it will be trained "
                                  "twice as often (use num_repeats for that instead)")
            else:
                seen[key] = i


def rule_ids() -> list[str]:
    return [r.id for r in RULES]
