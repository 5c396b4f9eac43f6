"""dataset.noise_sampling: "uniform" spreads sigma evenly, "log_uniform" gives the low end as many
images as the high end (median at the geometric mean of the range)."""
import numpy as np
import tensorflow as tf

from bfcnn.config import parse_pipeline
from bfcnn.trainer.data.noise import _sigmas


def _draw(sampling):
    cfg = parse_pipeline({"dataset": {"additional_noise": [1, 75], "noise_sampling": sampling}})
    return _sigmas(cfg.dataset, 20000, tf.constant([3, 4], tf.int32)).numpy() * 255.0


def test_log_uniform_covers_the_low_end():
    s = _draw("log_uniform")
    assert 1.0 - 1e-3 <= s.min() and s.max() <= 75.0 + 1e-3
    assert abs(np.median(s) - np.sqrt(75.0)) < 0.6
    assert np.mean(s < 5) > 0.3                        # uniform gives ~5%


def test_uniform_is_uniform():
    s = _draw("uniform")
    assert abs(np.median(s) - 38.0) < 1.5
    assert abs(np.mean(s < 5) - 4 / 74) < 0.01


def test_mixed_is_half_each():
    s = _draw("mixed")
    assert 1.0 - 1e-3 <= s.min() and s.max() <= 75.0 + 1e-3
    # P(sigma < 5) = (4/74 + ln5/ln75) / 2 = 0.21; P(sigma > 50) = (25/74 + ln1.5/ln75) / 2 = 0.22
    assert abs(np.mean(s < 5) - 0.213) < 0.015
    assert abs(np.mean(s > 50) - 0.216) < 0.015


def test_gray_fraction_gives_gray_images_one_noise_field():
    """dataset.gray_fraction: those colour images become luma in all planes and get the same
    noise in every plane (a gray frame reaching a colour model); the others keep independent noise."""
    from bfcnn.trainer.data.noise import corrupt, gray_some
    cfg = parse_pipeline({"dataset": {"color_mode": "rgb", "input_shape": [16, 16, 3], "additional_noise": [25],
                                      "gray_fraction": 0.5, "clip_value": False, "round_values": False},
                          "model": {"input_shape": ["?", "?", 3]}})
    rng = np.random.default_rng(0)
    clean = tf.constant(rng.random((64, 16, 16, 3)), tf.float32)
    seed = tf.constant([1, 2], tf.int32)
    gclean, gray = gray_some(clean, cfg.dataset, seed)
    noisy = corrupt(gclean, cfg.dataset, seed, gray).numpy()
    g = gray.numpy()[:, 0, 0, 0] > 0.5
    assert 20 < g.sum() < 44
    planes_equal = np.all(np.abs(noisy - noisy[..., :1]) < 1e-6, axis=(1, 2, 3))
    np.testing.assert_array_equal(planes_equal, g)
    luma = (clean.numpy() * np.array([0.114, 0.587, 0.299])).sum(-1)
    np.testing.assert_allclose(gclean.numpy()[g][..., 1], luma[g], atol=1e-6)
    np.testing.assert_allclose(gclean.numpy()[~g], clean.numpy()[~g])
    noise = noisy - gclean.numpy()
    assert 0.08 < noise[g].std() < 0.12 and 0.08 < noise[~g].std() < 0.12   # sigma 25/255 both
