"""Bias-free by construction: f(a*y) = a*f(y) for every registered type, levels 1 and 3;
a model with biases does not satisfy it (the test shows the gap)."""

import numpy as np
import pytest

from bfcnn.config import parse_pipeline
from bfcnn.model_types import MODEL_TYPES
from bfcnn.trainer import registry
from bfcnn.trainer.models import multiscale


def _model(kind, levels, **extra):
    cfg = parse_pipeline({"model": {"type": kind, "levels": levels, "filters": 8, "no_layers": 2, **extra},
                          "dataset": {"input_shape": [32, 32, 1]}})
    return multiscale.build(cfg.model)


def _relative_errors(model, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.random((2, 40, 56, 1), dtype=np.float32)
    # make batch-norm running statistics non-trivial, as after training
    for layer in model.full._flatten_layers(include_self=False, recursive=True):
        if hasattr(layer, "moving_second_moment"):
            layer.moving_second_moment.assign(rng.uniform(0.2, 3.0, layer.moving_second_moment.shape))
    f = np.asarray(model.full(y))
    errs = {}
    for a in (0.25, 2.0, 8.0):
        fa = np.asarray(model.full(np.float32(a) * y))
        errs[a] = float(np.max(np.abs(fa - a * f)) / np.max(np.abs(a * f)))
    return errs


def test_registry_matches_declared_types():
    assert registry.names() == tuple(sorted(MODEL_TYPES))


@pytest.mark.parametrize("levels", [1, 3])
@pytest.mark.parametrize("kind", MODEL_TYPES)
def test_bias_free_models_are_homogeneous(kind, levels):
    model = _model(kind, levels)
    assert model.bias_free
    errs = _relative_errors(model)
    assert max(errs.values()) < 1e-5, errs


@pytest.mark.parametrize("kind", MODEL_TYPES)
def test_space_to_depth_level0_is_homogeneous(kind):
    model = _model(kind, 3, space_to_depth=2)
    errs = _relative_errors(model)
    assert max(errs.values()) < 1e-5, errs


def test_model_with_biases_is_not_homogeneous():
    with pytest.warns(UserWarning, match="not bias-free"):
        model = _model("resnet", 1, use_bias=True, kernel_initializer="glorot_normal")
    for layer in model.full._flatten_layers(include_self=False, recursive=True):
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(np.full(layer.bias.shape, 0.05, np.float32))
    assert not model.bias_free
    errs = _relative_errors(model)
    assert min(errs.values()) > 1e-2, errs


def test_unknown_type_lists_registered():
    with pytest.raises(KeyError, match="Registered: dncnn, gatenet, resnet, sparse_resnet"):
        registry.get("unet")
