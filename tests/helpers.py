"""Small builders shared by the tests."""
from __future__ import annotations

import textwrap
from pathlib import Path

BASE_MAIN = """\
output_dir = '/tmp/dpgui-test-runs'
dataset = 'dataset.toml'
epochs = 10
micro_batch_size_per_gpu = 1
gradient_accumulation_steps = 1
save_every_n_epochs = 1

[model]
type = 'flux'
diffusers_path = '/models/flux-dev'
dtype = 'bfloat16'
transformer_dtype = 'float8'

[adapter]
type = 'lora'
rank = 32
dtype = 'bfloat16'

[optimizer]
type = 'adamw_optimi'
lr = 2e-5
betas = [0.9, 0.99]
weight_decay = 0.01
eps = 1e-8
"""

BASE_DATASET = """\
resolutions = [512]
enable_ar_bucket = true
min_ar = 0.5
max_ar = 2.0
num_ar_buckets = 7

[[directory]]
path = '/data/images'
num_repeats = 1
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = Path(folder) / name
    path.write_text(textwrap.dedent(text))
    return path
