"""The headline claims of every shipped model file: bias-free (f(a*y) = a*f(y) and f(0) = 0 to
float precision), a strict-JSON card whose claims match the file, and the default model."""
import json
import os

import numpy as np
import pytest

import bfcnn
from bfcnn.runtime import Denoiser
from bfcnn.zoo import DEFAULT_MODEL, PRETRAINED_DIR, resolve

MODELS = bfcnn.list_models()
STILL = [m for m in MODELS if not resolve(m).temporal]   # video models: tests/runtime/test_video.py


@pytest.mark.parametrize("name", STILL)
def test_every_shipped_float_file_is_homogeneous(name):
    card = resolve(name)
    assert card.bias_free
    den = Denoiser(name, num_threads=2, quantization="none")
    rng = np.random.default_rng(1)
    y = (rng.random((48, 64, card.channels), dtype=np.float32) * np.float32(0.5) + np.float32(0.25))
    out = den._ensembled(y, np.float32(1.0))   # unclipped float output
    for a in (0.25, 0.5, 1.5):
        scaled = den._ensembled(y * np.float32(a), np.float32(1.0))
        err = np.abs(scaled - np.float32(a) * out).max() / (a * np.abs(out).max())
        assert err < 2e-4, (name, a, err)
    assert np.abs(den._ensembled(np.zeros_like(y), np.float32(1.0))).max() == 0.0


@pytest.mark.parametrize("name", MODELS)
def test_cards_are_strict_json(name):
    with open(os.path.join(PRETRAINED_DIR, name, "card.json"), encoding="utf-8") as f:
        json.load(f, parse_constant=lambda c: pytest.fail(f"{name}: {c} is not JSON"))


def test_default_model_is_shipped():
    assert DEFAULT_MODEL in MODELS
