#!/usr/bin/env python3
"""Makes tests/fixtures/safetensors_torch.safetensors: a few tensors of each
dtype the engine reads, as PyTorch writes them. Run with /usr/bin/python3."""
import os

import torch

import fixture_io

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
fixture_io.save(os.path.join(here, "fixtures", "safetensors_torch.safetensors"), {
    "w.f32": torch.randn(2, 3, 4),
    "w.f64": torch.arange(5, dtype=torch.float64) / 4,
    "bn.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
    "empty": torch.zeros(0, 3),
}, metadata={"made_by": "tests/make_fixtures_safetensors.py", "torch": torch.__version__})
