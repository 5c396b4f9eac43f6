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
