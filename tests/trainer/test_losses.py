"""Loss terms checked against values computed by hand in numpy."""
import numpy as np
import pytest

from bfcnn.config import LossConfig


def _pair(seed=0):
    rng = np.random.default_rng(seed)
    clean = rng.uniform(0, 1, (3, 8, 8, 1)).astype(np.float32)
    sigmas = np.array([2.0, 10.0, 40.0], np.float32)[:, None, None, None] / 255.0
    denoised = (clean + sigmas * rng.normal(size=clean.shape)).astype(np.float32)
    return denoised, clean


def test_log_mse_is_minus_mean_per_image_psnr():
    import tensorflow as tf
    from bfcnn.trainer.losses import LOG_MSE_FLOOR, denoise_loss
    denoised, clean = _pair()
    terms = denoise_loss(LossConfig(mse_multiplier=0.0, mae_multiplier=0.0, log_mse_multiplier=1.0),
                         tf.constant(denoised), tf.constant(clean))
    per_image = np.mean(((denoised - clean) * 255.0) ** 2, axis=(1, 2, 3))
    psnr = 10 * np.log10(255.0 ** 2 / (per_image + LOG_MSE_FLOOR))
    assert float(terms["log_mse"]) == pytest.approx(10 * np.log10(255.0 ** 2) - psnr.mean(), abs=1e-3)
    assert float(terms["loss"]) == pytest.approx(float(terms["log_mse"]), abs=1e-5)
    # every image counts the same in dB: the sigma-2 image moves the term as much as the sigma-40 one
    assert float(terms["mse"]) == pytest.approx(per_image.mean(), rel=1e-4)


def test_level_term_is_zero_on_the_clean_pyramid_and_mse_otherwise():
    import tensorflow as tf
    from bfcnn.trainer.losses import denoise_loss
    denoised, clean = _pair(1)
    half = clean[:, ::2, ::2]
    cfg = LossConfig(mse_multiplier=1.0, mae_multiplier=0.0, level_multiplier=2.0)
    exact = denoise_loss(cfg, tf.constant(denoised), tf.constant(clean), [tf.constant(half)], [tf.constant(half)])
    assert float(exact["levels"]) == 0.0
    off = denoise_loss(cfg, tf.constant(denoised), tf.constant(clean), [tf.constant(half + 1 / 255.0)],
                       [tf.constant(half)])
    assert float(off["levels"]) == pytest.approx(1.0, rel=1e-3)           # one grey level, squared
    assert float(off["loss"]) - float(exact["loss"]) == pytest.approx(2.0 / 255.0, rel=1e-3)


def test_per_level_model_shares_weights_and_ends_with_the_full_output():
    from bfcnn.config import parse_pipeline
    from bfcnn.trainer.models import multiscale
    cfg = parse_pipeline({"model": {"levels": 3, "filters": 4, "no_layers": 1, "batchnorm": False,
                                    "kernel_regularizer": "none"},
                          "dataset": {"input_shape": [32, 32, 1]}})
    built = multiscale.build(cfg.model)
    x = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 1)).astype(np.float32)
    outs = built.levels(x)
    assert [tuple(o.shape) for o in outs] == [(2, 32, 32, 1), (2, 16, 16, 1), (2, 8, 8, 1)]
    np.testing.assert_allclose(np.asarray(outs[0]), np.asarray(built.full(x)), atol=1e-6)
    assert {id(v) for v in built.levels.weights} == {id(v) for v in built.full.weights}


def test_training_with_level_and_log_mse_terms_learns(tmp_path, datasets):
    import json
    from bfcnn.config import load_pipeline
    from bfcnn.trainer.train_loop import train
    from tests.trainer.tiny import tiny_config
    path = tiny_config(tmp_path, steps=150, checkpoint_every=150)
    cfg = json.load(open(path))
    cfg["loss"] = {"mse_multiplier": 0.0, "mae_multiplier": 0.0, "log_mse_multiplier": 1.0, "level_multiplier": 1.0}
    cfg["train"]["iterations_choice"] = [1, 2]
    json.dump(cfg, open(path, "w"))
    result = train(load_pipeline(path), str(tmp_path / "run"), progress=False)
    log = [json.loads(l) for l in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert result.steps == 150 and np.isfinite(result.last_loss)
    assert np.mean([r["psnr"] - r["psnr_noisy"] for r in log[-3:]]) > 2.0
