"""Widening a trained model (train.initial_weights_widen): the wide model starts as exactly the
narrow one's function, and its copied channels are set up to separate when trained."""
import os

import numpy as np
import pytest

from bfcnn.config import ConfigError, load_pipeline, parse_pipeline

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _built(name, extra_filters=0):
    import dataclasses
    from bfcnn.trainer.models import multiscale
    cfg = load_pipeline(os.path.join(REPO, "configs", f"{name}.json"))
    f = cfg.model.filters
    model = dataclasses.replace(cfg.model, filters=f + extra_filters if isinstance(f, int) else [w + extra_filters for w in f])
    return multiscale.build(model)


# edge_gray_realtime: plain convs; resnet_5x5_bn_3x3: scale-only batch norms (their scales are copied)
@pytest.mark.parametrize("name", ["edge_gray_realtime", "resnet_5x5_bn_3x3"])
def test_widened_model_computes_the_narrow_models_function(name):
    from bfcnn.trainer import tflite_weights
    from bfcnn.zoo import resolve
    path = resolve(name).file_for("none")
    narrow = _built(name)
    wide = _built(name, extra_filters=8)
    tflite_weights.load_into(narrow.core, path)
    with pytest.raises(tflite_weights.WeightImportError, match="has kernel"):
        tflite_weights.load_into(wide.core, path)          # without widen: refused, as before
    loaded = tflite_weights.load_into(wide.core, path, widen_rng=np.random.default_rng(0))
    assert loaded >= 10
    x = np.random.default_rng(1).uniform(0.0, 1.0, (2, 64, 64, 1)).astype(np.float32)
    a, b = np.asarray(narrow.full(x)), np.asarray(wide.full(x))
    assert np.max(np.abs(a - x)) > 0.05                     # the model does something
    assert np.max(np.abs(a - b)) < 1e-4
    assert np.max(np.abs(np.asarray(wide.full(0.3 * x)) - 0.3 * b)) < 1e-4   # still bias-free
    # a copied channel's weight is split unequally with its original, so training separates them
    conv = next(l for l in tflite_weights.iter_layers(wide.core) if l.name == "level0_out")
    k = conv.get_weights()[0]
    f = next(l for l in tflite_weights.iter_layers(narrow.core) if l.name == "level0_out").get_weights()[0].shape[2]
    assert k.shape[2] == f + 8
    ratios = [np.abs(k[:, :, j]).sum() / np.abs(k[:, :, :f]).sum(axis=(0, 1, 3)) for j in range(f, f + 8)]
    assert len({round(float(np.max(r)), 3) for r in ratios}) > 1


def test_shares_split_each_old_channel_exactly():
    from bfcnn.trainer import widen
    rng = np.random.default_rng(3)
    m = widen.channel_map(16, 40, rng)                      # more new channels than old: repeats
    assert list(m[:16]) == list(range(16)) and m.min() >= 0 and m.max() < 16
    s = widen.split_shares(m, rng)
    sums = np.zeros(16)
    np.add.at(sums, m, s)
    np.testing.assert_allclose(sums, 1.0, rtol=1e-6)
    copied = np.bincount(m, minlength=16)[m] > 1
    assert np.all(s[~copied] == 1.0) and np.all(s[copied] < 1.0)


def test_narrowing_and_widen_without_weights_are_refused():
    from bfcnn.trainer import widen
    with pytest.raises(widen.WidenError, match="cannot narrow a level from 32 to 16"):
        widen.channel_map(32, 16, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="train.initial_weights_widen: set train.initial_weights"):
        parse_pipeline({"train": {"initial_weights_widen": True}})
