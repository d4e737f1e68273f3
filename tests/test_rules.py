"""Each decidable diffusion-pipe rule: a config that breaks it, the rule id and the key."""
from __future__ import annotations

import pytest
import tomlkit

from dpgui_qt.core.config import rules as rules_mod
from dpgui_qt.core.config.document import ConfigDocument
from dpgui_qt.core.config.schema import default_registry
from dpgui_qt.core.config.validate import Options, Validator
from tests.helpers import BASE_DATASET, BASE_MAIN

V = Validator(default_registry())


def main_findings(text: str, gpus: int | None = None):
    doc = ConfigDocument(text)
    return V.validate(doc, "main", Options(check_paths=False, follow_datasets=False, num_gpus=gpus))


def dataset_findings(text: str, model_type: str | None = None, main_text: str = BASE_MAIN):
    doc = ConfigDocument(text)
    main_values = ConfigDocument(main_text).values()
    return V.validate(doc, "dataset", Options(check_paths=False), model_type=model_type,
                      main_values=main_values)


def set_keys(text: str, **changes) -> str:
    doc = tomlkit.parse(text)
    for dotted, value in changes.items():
        node = doc
        parts = dotted.split("__")
        for part in parts[:-1]:
            if part not in node:
                node[part] = tomlkit.table()
            node = node[part]
        if value is None:
            del node[parts[-1]]
        else:
            node[parts[-1]] = value
    return tomlkit.dumps(doc)


def model(text: str, model_type: str, **keys) -> str:
    doc = tomlkit.parse(text)
    schema = default_registry().model(model_type)
    table = tomlkit.table()
    table["type"] = model_type
    template = schema["x-dpgui-template"]
    for k in schema.get("required", []):
        if k != "type":
            table[k] = template[k]
    for alt in schema.get("x-dpgui-require-one-of", []):
        if all(k in template for k in alt):
            for k in alt:
                table[k] = template[k]
            break
    for k, v in keys.items():
        table[k] = v
    doc["model"] = table
    return tomlkit.dumps(doc)


def has(findings, rule: str, key: str, severity: str = "error") -> bool:
    return any(f.rule == rule and f.key == key and f.severity == severity for f in findings)


def test_base_configs_are_clean():
    assert [f.format() for f in main_findings(BASE_MAIN) if f.is_error] == []
    assert [f.format() for f in dataset_findings(BASE_DATASET, "flux") if f.is_error] == []


MAIN_CASES = [
    # (rule id, key, config text, gpus)
    ("save_interval_required", "save_every_n_epochs", set_keys(BASE_MAIN, save_every_n_epochs=None), None),
    ("epochs_required", "epochs", set_keys(BASE_MAIN, epochs=None), None),
    ("no_adapter_alpha", "adapter.alpha", set_keys(BASE_MAIN, adapter__alpha=32), None),
    ("adapter_type_enum", "adapter.type", set_keys(BASE_MAIN, adapter__type="dora"), None),
    ("adapter_type_model_support", "adapter.type", set_keys(BASE_MAIN, adapter__type="lokr"), None),
    ("adapter_type_model_support", "adapter.type",
     set_keys(model(BASE_MAIN, "sdxl"), adapter__type="lokr"), None),
    ("model_type_enum", "model.type", set_keys(BASE_MAIN, model__type="flux3"), None),
    ("dtype_enum", "model.dtype", set_keys(BASE_MAIN, model__dtype="bf16"), None),
    ("dtype_enum", "save_dtype", set_keys(BASE_MAIN, save_dtype="fp16"), None),
    ("dtype_enum", "adapter.dtype", set_keys(BASE_MAIN, adapter__dtype="half"), None),
    ("hidream_nf4", "model.transformer_dtype", model(BASE_MAIN, "hidream", transformer_dtype="nf4"), None),
    ("block_swap_requirements", "blocks_to_swap",
     set_keys(BASE_MAIN, blocks_to_swap=10, pipeline_stages=2), None),
    ("block_swap_requirements", "blocks_to_swap",
     set_keys(BASE_MAIN, blocks_to_swap=10, adapter=None), None),
    ("block_swap_requirements", "blocks_to_swap", set_keys(model(BASE_MAIN, "sdxl"), blocks_to_swap=4), None),
    ("block_swap_max", "blocks_to_swap", set_keys(BASE_MAIN, blocks_to_swap=35), None),
    ("block_swap_max", "blocks_to_swap", set_keys(model(BASE_MAIN, "qwen_image"), blocks_to_swap=59), None),
    ("activation_checkpointing_enum", "activation_checkpointing",
     set_keys(BASE_MAIN, activation_checkpointing="yes"), None),
    ("lr_scheduler_enum", "lr_scheduler", set_keys(BASE_MAIN, lr_scheduler="step"), None),
    ("timestep_sample_method_enum", "model.timestep_sample_method",
     set_keys(BASE_MAIN, model__timestep_sample_method="sigmoid"), None),
    ("video_clip_mode_enum", "video_clip_mode",
     set_keys(model(BASE_MAIN, "wan"), video_clip_mode="multiple_overlapping"), None),
    ("partition_manual", "partition_split",
     set_keys(BASE_MAIN, partition_method="manual", pipeline_stages=2), None),
    ("partition_manual", "partition_split",
     set_keys(BASE_MAIN, partition_method="manual", pipeline_stages=3, partition_split=[10]), None),
    ("partition_method_enum", "partition_method", set_keys(BASE_MAIN, partition_method="profile"), None),
    ("world_size_divisible", "pipeline_stages", set_keys(BASE_MAIN, pipeline_stages=2), 3),
    ("gradient_release_dp1", "optimizer.gradient_release",
     set_keys(model(BASE_MAIN, "sdxl"), optimizer__gradient_release=True), 2),
    ("gradient_release_lr_keyerror", "optimizer.gradient_release",
     set_keys(BASE_MAIN, optimizer__gradient_release=True), None),
    ("beta2_half_life_betas", "optimizer.betas",
     set_keys(BASE_MAIN, optimizer__beta2_half_life=1000.0, optimizer__betas=None), None),
    ("optimizer_kwargs_passthrough", "optimizer.momentum",
     set_keys(BASE_MAIN, optimizer__momentum=0.9), None),
    ("schema.forbidden", "optimizer.betas",
     set_keys(BASE_MAIN, optimizer__type="automagic", optimizer__lr=1e-6), None),
    ("genericoptim_checks", "optimizer.adamuon",
     set_keys(BASE_MAIN, optimizer__type="genericoptim", optimizer__muon=True, optimizer__adamuon=True), None),
    ("genericoptim_checks", "optimizer.update_proj_gap",
     set_keys(BASE_MAIN, optimizer__type="genericoptim", optimizer__rank=4), None),
    ("genericoptim_checks", "optimizer.rank",
     set_keys(BASE_MAIN, optimizer__type="genericoptim", optimizer__momentum_type="sm"), None),
    ("pytorch_optimizer_name", "optimizer.type", set_keys(BASE_MAIN, optimizer__type="prodigy"), None),
    ("minimax_cfg_pipeline", "model.cfg",
     set_keys(model(BASE_MAIN, "minimax_h3", cfg=3.0), pipeline_stages=2, adapter=None), None),
    ("fft_unsupported_models", "adapter", set_keys(model(BASE_MAIN, "hunyuan-video"), adapter=None), None),
    ("text_encoder_path_required", "model.text_encoders[0]",
     model(BASE_MAIN, "z_image", text_encoders=[{"type": "lumina2"}]), None),
    ("text_encoder_path_required", "model.t5_path",
     set_keys(model(BASE_MAIN, "anima"), model__llm_path=None), None),
    ("eval_items_tables", "eval_datasets[0]", set_keys(BASE_MAIN, eval_datasets=["eval.toml"]), None),
    ("save_examples_vs_batch", "save_every_n_examples",
     set_keys(BASE_MAIN, save_every_n_examples=4, micro_batch_size_per_gpu=2,
              gradient_accumulation_steps=4), None),
    ("save_examples_vs_batch", "save_every_n_examples",
     set_keys(BASE_MAIN, save_every_n_examples=8, micro_batch_size_per_gpu=2,
              gradient_accumulation_steps=2), 4),
    ("positive_intervals", "save_every_n_steps", set_keys(BASE_MAIN, save_every_n_steps=0), None),
    ("positive_intervals", "gradient_accumulation_steps",
     set_keys(BASE_MAIN, gradient_accumulation_steps=0), None),
    ("wandb_fields", "monitoring.wandb_run_name",
     set_keys(BASE_MAIN, monitoring__enable_wandb=True, monitoring__wandb_api_key="k",
              monitoring__wandb_tracker_name="t"), None),
    ("auraflow_max_sequence_length", "model.max_sequence_length",
     set_keys(model(BASE_MAIN, "auraflow"), model__max_sequence_length=None), None),
    ("toml_homogeneous_array", "optimizer.betas", BASE_MAIN.replace("[0.9, 0.99]", "[0.9, 1]"), None),
    ("toml_homogeneous_array", "micro_batch_size_per_gpu[1]",
     BASE_MAIN.replace("micro_batch_size_per_gpu = 1", "micro_batch_size_per_gpu = [[512, 4], [1024.0, 1]]").replace(
         "[[512, 4], [1024.0, 1]]", "[[512, 4], [1024.0, 1]]"), None),
]


@pytest.mark.parametrize("rule, key, text, gpus", MAIN_CASES,
                         ids=[f"{c[0]}:{c[1]}" for c in MAIN_CASES])
def test_main_rule(rule, key, text, gpus):
    found = main_findings(text, gpus)
    assert has(found, rule, key), [f"{f.rule} {f.key}: {f.message}" for f in found if f.is_error]


def test_warning_rules():
    found = main_findings(set_keys(model(BASE_MAIN, "flux2"), model__transformer_dtype="float8"))
    assert has(found, "dtype_family", "model.transformer_dtype", "warning")
    found = main_findings(set_keys(BASE_MAIN, video_clip_mode="single_middle"))
    assert has(found, "video_clip_mode_models", "video_clip_mode", "warning")
    found = main_findings(set_keys(model(BASE_MAIN, "wan"), adapter__fuse_adapters=[{"path": "/x"}]))
    assert has(found, "fuse_adapters_models", "adapter.fuse_adapters", "warning")
    found = main_findings(set_keys(BASE_MAIN, regenerate_cache=True))
    assert has(found, "deprecated_key", "regenerate_cache", "warning")


DATASET_CASES = [
    ("eager_dataset_defaults", "resolutions",
     BASE_DATASET.replace("resolutions = [512]\n", "").replace("num_repeats = 1\n", "num_repeats = 1\nresolutions = [512]\n"), None),
    ("eager_dataset_defaults", "min_ar",
     BASE_DATASET.replace("min_ar = 0.5\n", "").replace("num_repeats = 1\n", "num_repeats = 1\nmin_ar = 0.5\n"), None),
    ("too_many_resolutions", "resolutions", BASE_DATASET.replace("[512]", "[256, 512, 768, 1024]"), None),
    ("too_many_resolutions", "directory[0].resolutions",
     BASE_DATASET.replace("num_repeats = 1\n", "num_repeats = 1\nresolutions = [256, 512, 768, 1024]\n"), None),
    ("cosmos_size_buckets", "directory[0].size_buckets", BASE_DATASET, "cosmos"),
    ("control_path_models", "directory[0].control_path",
     BASE_DATASET.replace("num_repeats = 1\n", "num_repeats = 1\ncontrol_path = '/c'\n"), "wan"),
    ("num_repeats_positive", "directory[0].num_repeats", BASE_DATASET.replace("num_repeats = 1", "num_repeats = 0"), None),
    ("pair_lengths", "resolutions", BASE_DATASET.replace("[512]", "[[512, 512, 512]]"), None),
    ("toml_homogeneous_array", "ar_buckets", BASE_DATASET + "ar_buckets = [1.0, [512, 512]]\n".join(["", ""]) if False else
     BASE_DATASET.replace("num_ar_buckets = 7\n", "num_ar_buckets = 7\nar_buckets = [1, 1.5]\n"), None),
    ("ar_range_order", "min_ar", BASE_DATASET.replace("min_ar = 0.5", "min_ar = 3.0"), None),
    ("schema.required", "directory[0].path", BASE_DATASET.replace("path = '/data/images'\n", ""), None),
]


@pytest.mark.parametrize("rule, key, text, model_type", DATASET_CASES,
                         ids=[f"{c[0]}:{c[1]}" for c in DATASET_CASES])
def test_dataset_rule(rule, key, text, model_type):
    found = dataset_findings(text, model_type)
    assert has(found, rule, key), [f"{f.rule} {f.key}: {f.message}" for f in found if f.is_error]


def test_control_path_allowed_for_edit_models():
    text = BASE_DATASET.replace("num_repeats = 1\n", "num_repeats = 1\ncontrol_path = '/c'\n")
    assert not [f for f in dataset_findings(text, "qwen_image") if f.is_error]


def test_size_buckets_lift_the_resolutions_requirement():
    text = ("size_buckets = [[512, 512, 1]]\n\n[[directory]]\npath = '/d'\n")
    assert not [f for f in dataset_findings(text, None) if f.is_error]


def test_every_rule_has_an_id_source_and_test():
    ids = rules_mod.rule_ids()
    assert len(ids) == len(set(ids))
    assert all(r.source for r in rules_mod.RULES)
    tested = {c[0] for c in MAIN_CASES} | {c[0] for c in DATASET_CASES} | {
        "dtype_family", "video_clip_mode_models", "fuse_adapters_models"}
    untested_errors = [r.id for r in rules_mod.RULES if r.id not in tested
                       and r.id not in ("block_swap_eval_flag", "eval_interval_without_datasets",
                                        "frame_buckets_models", "duplicate_directories")]
    assert untested_errors == []


def test_pytorch_optimizer_names():
    assert not [f for f in main_findings(set_keys(BASE_MAIN, optimizer__type="Prodigy")) if f.is_error]
    found = main_findings(set_keys(BASE_MAIN, optimizer__type="Prodigi"))
    assert has(found, "pytorch_optimizer_name", "optimizer.type", "warning")
    assert "'Prodigy'" in next(f.message for f in found if f.rule == "pytorch_optimizer_name")
    # built-in names match case-insensitively in diffusion-pipe
    assert not [f for f in main_findings(set_keys(BASE_MAIN, optimizer__type="AdamW_Optimi")) if f.is_error]


def test_info_rules_warn():
    found = main_findings(set_keys(BASE_MAIN, eval_every_n_epochs=1))
    assert has(found, "eval_interval_without_datasets", "eval_every_n_epochs", "warning")
    found = main_findings(set_keys(BASE_MAIN, disable_block_swap_for_eval=True))
    assert has(found, "block_swap_eval_flag", "disable_block_swap_for_eval", "warning")
    text = BASE_DATASET + "\n[[directory]]\npath = '/data/images/'\n"
    assert has(dataset_findings(text, "flux"), "duplicate_directories", "directory[1].path", "warning")
    text = BASE_DATASET + "frame_buckets = [1, 33]\n"
    text = "frame_buckets = [1, 33]\n" + BASE_DATASET
    assert has(dataset_findings(text, "flux"), "frame_buckets_models", "frame_buckets", "warning")
