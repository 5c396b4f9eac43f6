"""The headline claims of every shipped model file: bias-free (f(a*y) = a*f(y) and f(0) = 0 to
float precision), a strict-JSON card whose claims match the file, and the default model."""
import json
import os

import numpy as np
import pytest

import bfcnn
from bfcnn.runtime import Denoiser
from bfcnn.zoo import DEFAULT_MODEL, PRETRAINED_DIR, resolve
from tests.conftest import camera_profile, scaled_outputs

MODELS = bfcnn.list_models()


@pytest.mark.parametrize("name", MODELS)
def test_every_shipped_float_file_is_homogeneous(name):
    """f(a*y) = a*f(y); for a noise-conditioned model jointly in the frame and its noise
    maps, f(a*y, a*s) = a*f(y, s), and f(0, 0) = 0."""
    card = resolve(name)
    assert card.bias_free
    den = Denoiser(name, num_threads=2, quantization="none")
    rng = np.random.default_rng(1)
    y = (rng.random((48, 64, card.channels), dtype=np.float32) * np.float32(0.5) + np.float32(0.25))
    for a in (0.25, 0.5, 1.5):
        out, scaled = scaled_outputs(den, y, a)
        err = np.abs(scaled - np.float32(a) * out).max() / (a * np.abs(out).max())
        assert err < 2e-4, (name, a, err)
    assert np.abs(scaled_outputs(den, np.zeros_like(y), 0.0)[1]).max() == 0.0   # f(0) = 0, f(0, 0) = 0


DYNAMIC = [m for m in MODELS if "dynamic" in resolve(m).quantization]


@pytest.mark.parametrize("name", DYNAMIC)
def test_dynamic_int8_files_stay_homogeneous(name):
    """int8 weights with activations quantized per frame: each layer's scale follows the frame's
    own range, so f(a*y) = a*f(y) holds up to a flipped rounding step (measured: at most 1.2% of the
    output's peak, 0.2% on average, exact at powers of two); a static int8 file is off by 13% at a = 0.1."""
    den = Denoiser(name, num_threads=2, quantization="dynamic")
    rng = np.random.default_rng(1)
    y = (rng.random((48, 64, resolve(name).channels), dtype=np.float32) * np.float32(0.5) + np.float32(0.25))
    for a in (0.1, 0.3, 1.5, 3.0):
        out, scaled = scaled_outputs(den, y, a)
        diff = np.abs(scaled - np.float32(a) * out) / (a * np.abs(out).max())
        assert diff.max() < 0.03 and diff.mean() < 5e-3, (name, a, diff.max(), diff.mean())


@pytest.mark.parametrize("name", sorted(set(DYNAMIC) | {DEFAULT_MODEL, "edge_gray_realtime"}))
def test_dynamic_files_hold_int8_weights(name):
    """The int8 fast path for Arm boards: the default colour and gray models carry a dynamic file,
    and every dynamic file keeps its conv weights in int8 (a float file under that name would
    pass the quality tests)."""
    from ai_edge_litert.interpreter import Interpreter
    from bfcnn.zoo import verify
    card = resolve(name)
    assert "dynamic" in card.quantization, name
    kinds = {q: [t["dtype"] for t in Interpreter(model_path=verify(card, q)).get_tensor_details()]
             for q in ("none", "dynamic")}
    assert sum(d == np.int8 for d in kinds["dynamic"]) >= 4, (name, kinds["dynamic"])
    assert not any(d == np.int8 for d in kinds["none"]), name


@pytest.mark.parametrize("name", MODELS)
def test_cards_are_strict_json(name):
    with open(os.path.join(PRETRAINED_DIR, name, "card.json"), encoding="utf-8") as f:
        json.load(f, parse_constant=lambda c: pytest.fail(f"{name}: {c} is not JSON"))


def test_default_model_is_shipped():
    assert DEFAULT_MODEL in MODELS
