"""Hand-written expectations for every log in shared/corpus/logs/.

Written by reading each log (see MANIFEST.tsv for where they come from), not
by running the parser. ``counts`` lists the exact number of events of every
type the log should produce (types not listed: zero). ``outcome`` is the
(status, kind) pair the classifier should give without an exit code.
"""
from __future__ import annotations

NAN = "nan"

EXPECTED: dict[str, dict] = {
    "dp-issue105_caching_map_numproc_bars.log": {
        # 5 "caching latents" + 2 "caching text embeddings"; two complete
        # Map (num_proc=N) bars, the third is cut mid-bar
        "counts": {"caching": 7, "progress": 2},
        "progress": [("Map (num_proc=3)", 3, 3, 100), ("Map (num_proc=7)", 7, 7, 100)],
        "caching_first": ("latents", "/home/username/diffusion-pipe/data/input/dataset"),
        "caching_last": ("text embeddings", "(0.6299605249474366, 1)"),
        "outcome": ("unknown", "running"),
    },
    "dp-issue153_oom_two_ranks.log": {
        "counts": {"error": 1, "traceback": 1},
        "errors": [("cuda_oom", 0)],
        # rank 1's traceback is cut inside the 5th frame line (no closing quote)
        "tracebacks": [dict(rank=1, exception=None, line=735, function="_exec_forward_pass",
                            file_endswith="deepspeed/runtime/pipe/engine.py", frames=4)],
        "outcome": ("failed", "cuda_oom"),
    },
    "dp-issue153_sigkill_handler_exit_code_prompt.log": {
        "counts": {"exit_code": 1},
        "exit_codes": [(1, 1)],  # (rc, --local_rank)
        "outcome": ("failed", "exit_error"),
    },
    "dp-issue159_resume_no_latest_file.log": {
        "counts": {"error": 1},
        "errors": [("resume_no_latest", None)],
        "outcome": ("failed", "resume_no_latest"),
    },
    "dp-issue177_launcher_gui_wrapper_prefix.log": {
        "counts": {},
        "outcome": ("unknown", "running"),
    },
    "dp-issue216_blockswap_traceback_rank0.log": {
        "counts": {"progress": 1, "traceback": 1},
        "progress": [("Loading checkpoint shards", 6, 6, 100)],
        "tracebacks": [dict(rank=0, exception=None, line=119, function="weights_to_device",
                            file_endswith="utils/offloading.py", frames=5)],
        "outcome": ("failed", "python_error"),
    },
    "dp-issue235_nccl_watchdog_pipeline2.log": {
        "counts": {"error": 1},
        "errors": [("nccl", 1)],
        "outcome": ("failed", "nccl"),
    },
    "dp-issue238_caching_interleaved_map_tqdm.log": {
        # 5 latents lines (one with a WARNING glued on) + 8 text-embeddings
        # lines (one glued after a Map bar); the last Map bar is cut
        "counts": {"caching": 13, "progress": 1},
        "progress": [("Map", 0, 10, 0)],
        "caching_contains": [("latents", "(704, 704, 81)"),
                             ("text embeddings", "/chatgpt/zhangquanwei.zqw/boom")],
        "outcome": ("unknown", "running"),
    },
    "dp-issue23_indentation_error_import.log": {
        "counts": {"traceback": 1},
        # the exception line is cut to "Indentat"; the saver.py frame has no function
        "tracebacks": [dict(rank=None, exception="Indentat", line=161, function=None,
                            file_endswith="utils/saver.py", frames=2)],
        "outcome": ("failed", "python_error"),
    },
    "dp-issue28_ltxv_blockquoted_startup.log": {"counts": {}, "outcome": ("unknown", "running")},
    "dp-issue2_deepspeed_config_dump.log": {"counts": {}, "outcome": ("unknown", "running")},
    "dp-issue2_launcher_startup_full.log": {"counts": {}, "outcome": ("unknown", "running")},
    "dp-issue34_launcher_startup_nccl_env.log": {"counts": {}, "outcome": ("unknown", "running")},
    "dp-issue37_old_caching_docker_eof.log": {
        # caching metadata, 3 latents lines, 1 text embeddings line
        "counts": {"caching": 5, "progress": 2, "error": 1},
        "progress": [("Map", 2, 2, 100), ("Map (num_proc=2)", 0, 2, 0)],
        "caching_first": ("metadata", ""),
        "errors": [("container_lost", None)],
        "outcome": ("failed", "container_lost"),
    },
    "dp-issue382_engine_init_block.log": {
        "counts": {"deepspeed_version": 1},
        "deepspeed_version": "0.17.0",
        "outcome": ("unknown", "running"),
    },
    "dp-issue399_resume_warning_split_line.log": {
        "counts": {"error": 1},
        "errors": [("resume_no_latest", None)],
        "outcome": ("failed", "resume_no_latest"),
    },
    "dp-issue410_normal_training_wan_4gpu.log": {
        "counts": {"lr": 4, "step": 4},
        "steps": [(1, 0.0614, 531.283, 0.008), (2, 0.0571, 532.811, 0.008),
                  (3, 0.0359, 533.063, 0.008), (4, 0.1193, 533.263, 0.008)],
        "lrs": [(1, [1.5968e-07]), (2, [2.3936e-07]), (3, [3.1904000000000003e-07]),
                (4, [3.9872000000000007e-07])],
        "outcome": ("unknown", "running"),
    },
    "dp-issue417_stuck_after_optimizer_init.log": {
        "counts": {"global_batch": 1},
        "global_batch": [32],
        "outcome": ("unknown", "running"),
    },
    "dp-issue451_caching_latents_lines.log": {
        "counts": {"caching": 3},
        "caching_all": [("latents", "/home/user/diffusion-pipe/images"), ("latents", "[1.0, 1]"),
                        ("latents", "(1.0, 384, 384, 1)")],
        "outcome": ("unknown", "running"),
    },
    "dp-issue503_collapsed_newlines_crash.log": {
        # ONE physical line: two "Global batch size = 8" records and a rank-0
        # traceback whose indentation was collapsed (frame + source line)
        "counts": {"global_batch": 2, "traceback": 1},
        "global_batch": [8, 8],
        "tracebacks": [dict(rank=0, exception=None, line=854, function=None,
                            file_endswith="diffusion-pipe/train.py", frames=1)],
        "outcome": ("failed", "python_error"),
    },
    "dp-issue531_ltx2_loss_nan.log": {
        "counts": {"step": 8, "lr": 7},
        "steps": [(16, 0.7332, 3.181, 0.314), (17, 0.5994, 3.162, 0.316), (18, NAN, 3.235, 0.309),
                  (19, NAN, 3.104, 0.322), (20, NAN, 3.108, 0.322), (21, NAN, 3.108, 0.322),
                  (22, NAN, 3.102, 0.322), (23, NAN, 3.106, 0.322)],
        "lrs": [(s, [1e-06]) for s in range(17, 24)],
        "outcome": ("unknown", "loss_nan"),
    },
    "dp-issue538_eval_oom_rank0_traceback.log": {
        # the excerpt starts mid-traceback (no header) and stops before the exception
        "counts": {"traceback": 1},
        "tracebacks": [dict(rank=0, exception=None, line=522, function="checkpoint",
                            file_endswith="torch/utils/checkpoint.py", frames=2)],
        "outcome": ("failed", "python_error"),
    },
    "dp-issue53_caching_metadata_map_bars.log": {
        # caching metadata + 10 latents lines + 1 (cut) text embeddings line
        "counts": {"caching": 12, "progress": 6},
        "progress": [("Map", 8, 8, 100), ("Map", 8, 8, 100), ("Map", 3, 3, 100),
                     ("Map", 3, 3, 100), ("Map", 2, 2, 100), ("Map", 2, 2, 100)],
        "outcome": ("unknown", "running"),
    },
    "dp-issue58_missing_keys_killing_subprocess.log": {
        # a long list of "decoder....weight" names (body of a state_dict error),
        # a harmless ProcessGroupNCCL warning, then the launcher kills the job
        "counts": {"error": 1, "subprocess_killed": 1},
        "errors": [("state_dict_mismatch", None)],
        "killed": [133353],
        "outcome": ("failed", "state_dict_mismatch"),
    },
    "dp-issue65_caching_text_embeddings_num_proc.log": {
        "counts": {"caching": 12},
        "caching_first": ("text embeddings", "(1.6983813295649526, 91)"),
        "caching_last": ("text embeddings", "(1.6983813295649526, 26)"),
        "outcome": ("unknown", "running"),
    },
    "dp-issue73_resume_no_latest_file_cmdline.log": {
        "counts": {"error": 1},
        "errors": [("resume_no_latest", None)],
        "outcome": ("failed", "resume_no_latest"),
    },
    "dp-issue78_sigkill_linkified_flattened_bars.log": {
        # four Map bars flattened onto one line with a caching print glued to the
        # last; the 0/6 bar has the (auto-linkified) launcher kill line glued on
        "counts": {"caching": 4, "progress": 5, "subprocess_killed": 1},
        "progress": [("Map", 27, 27, 100), ("Map", 6, 6, 100), ("Map", 8, 8, 100),
                     ("Map", 13, 13, 100), ("Map", 0, 6, 0)],
        "killed": [11560],
        "caching_all": [("metadata", ""), ("latents", "training_data/images"),
                        ("latents", "(0.6299605249474366, 1)"), ("latents", "(800, 1280, 1)")],
        "outcome": ("failed", "host_oom"),
    },
    "runpod-hearmeman-issue13_cache_shards_tqdm.log": {
        "counts": {"caching": 1, "cache": 4, "progress": 1},
        "cache": ["Initializing", "Storing new fingerprint: d76c3f9ae54d0d99",
                  "Existing cache length: 0", "Creating new shard: shard_0"],
        "progress": [("", 0, 62, 0)],
        "outcome": ("unknown", "running"),
    },
    "ui-alisson-anjos-issue2_gui_training_started.log": {
        "counts": {},
        "outcome": ("unknown", "running"),
    },
}
