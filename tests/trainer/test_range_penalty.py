"""loss.range_multiplier: the activation-range penalty that keeps int8 scales fine."""
import json

import numpy as np
import pytest

from bfcnn.config import ConfigError, LossConfig, parse_pipeline


def _built(levels=2, s2d=1):
    from bfcnn.trainer.models import multiscale
    cfg = parse_pipeline({"model": {"levels": levels, "filters": 4, "no_layers": 1, "batchnorm": False,
                                    "kernel_regularizer": "none", "space_to_depth": s2d},
                          "dataset": {"input_shape": [32, 32, 1]}})
    return multiscale.build(cfg.model)


def test_range_term_is_the_mean_squared_excess_of_each_peak_over_the_limit():
    import tensorflow as tf
    from bfcnn.trainer.losses import denoise_loss
    rng = np.random.default_rng(0)
    clean = rng.uniform(0, 1, (2, 8, 8, 1)).astype(np.float32)
    a = rng.normal(0, 3, (2, 8, 8, 5)).astype(np.float32)
    b = rng.normal(0, 1.5, (2, 4, 4, 3)).astype(np.float32)
    cfg = LossConfig(mae_multiplier=0.0, mse_multiplier=1.0, range_multiplier=2.0, range_limit=2.5)
    terms = denoise_loss(cfg, tf.constant(clean), tf.constant(clean), inner=[tf.constant(a), tf.constant(b)])
    want = np.mean([max(np.abs(t).max() - 2.5, 0) ** 2 for t in (a, b)])
    assert np.abs(a).max() > 2.5 + 1 and np.abs(b).max() > 2.5
    assert float(terms["range"]) == pytest.approx(want, rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(2.0 * want, rel=1e-5)     # the image term is 0
    inside = denoise_loss(cfg, tf.constant(clean), tf.constant(clean), inner=[tf.constant(b / 5)])
    assert float(inside["range"]) == 0.0


def test_activations_model_holds_every_quantized_tensor_and_shares_weights():
    built = _built(levels=2, s2d=2)
    x = np.random.default_rng(1).uniform(0, 1, (1, 32, 32, 1)).astype(np.float32)
    outs = built.activations(x)
    np.testing.assert_allclose(np.asarray(outs[0]), np.asarray(built.full(x)), atol=1e-6)
    assert {id(v) for v in built.activations.weights} == {id(v) for v in built.full.weights}
    names = built.inner_names
    assert len(names) == len(outs) - 2
    assert "level0_stem" in names and "level0_stem_c" in names and "level0_d2s" in names
    assert not any(n.endswith("_relu") for n in names)      # fused into the op before in TFLite


def test_penalty_pulls_a_blown_up_channel_back_inside_the_limit():
    """A stem channel scaled x10 peaks far beyond the limit; with the log-MSE term also
    training, the penalty's gradient brings the model's largest inner activation close to it
    within 100 Adam steps."""
    import keras
    import tensorflow as tf
    from bfcnn.trainer.losses import denoise_loss
    built = _built(levels=2)
    stem = built.core.get_layer("level0_stem")
    k = stem.kernel.numpy()
    k[..., 0] *= 10.0
    stem.kernel.assign(k)
    rng = np.random.default_rng(2)
    clean = tf.constant(rng.uniform(0, 1, (4, 32, 32, 1)).astype(np.float32))
    noisy = clean + tf.constant(rng.normal(0, 0.1, (4, 32, 32, 1)).astype(np.float32))

    def peak():
        return max(float(tf.reduce_max(tf.abs(t))) for t in built.activations(noisy)[2:])

    cfg = LossConfig(mae_multiplier=0.0, log_mse_multiplier=1.0, range_multiplier=10.0, range_limit=1.0)
    before = peak()
    assert before > 3.0
    opt = keras.optimizers.Adam(0.05)
    for _ in range(100):
        with tf.GradientTape() as tape:
            outs = built.activations(noisy, training=True)
            loss = denoise_loss(cfg, outs[0], clean, inner=outs[2:])["loss"]
        grads = tape.gradient(loss, built.full.trainable_variables)
        opt.apply_gradients(zip(grads, built.full.trainable_variables))
    after = peak()
    assert after < 2.2 and after < 0.35 * before, (before, after)     # limit 1, quadratic near it


def test_training_with_the_range_penalty_runs_through_the_train_loop(tmp_path, datasets):
    from bfcnn.config import load_pipeline
    from bfcnn.trainer.train_loop import train
    from tests.trainer.tiny import tiny_config
    path = tiny_config(tmp_path, steps=40, checkpoint_every=40)
    cfg = json.load(open(path))
    cfg["loss"].update({"level_multiplier": 1.0, "range_multiplier": 1.0, "range_limit": 0.5})
    json.dump(cfg, open(path, "w"))
    result = train(load_pipeline(path), str(tmp_path / "run"), progress=False)
    assert result.steps == 40 and np.isfinite(result.last_loss)


def test_range_limit_must_be_positive_when_the_penalty_is_on():
    with pytest.raises(ConfigError, match="loss.range_limit"):
        parse_pipeline({"loss": {"range_multiplier": 1.0, "range_limit": 0.0}})
    with pytest.raises(ConfigError, match="loss.range_multiplier"):
        parse_pipeline({"loss": {"range_multiplier": -1.0}})
