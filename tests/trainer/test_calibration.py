"""int8 calibration noise range (export --calibration-sigma)."""
import os

import numpy as np
import pytest

from tests.conftest import repo_config


def test_calibration_images_span_zero_to_the_asked_sigma(datasets):
    from bfcnn.trainer.int8 import calibration_images
    cfg = repo_config("resnet_5x5_bn_3x3")
    for top in (10.0, 60.0):
        imgs = calibration_images(cfg, max_sigma=top)
        assert len(imgs) == 34                          # 16 crops, each inverted, black, white
        # the noisiest crop's high-pass energy grows with its sigma (its clean crop is the same)
        lap = [float(np.std(np.diff(im[..., 0], axis=1))) * 255 for im in imgs[-4:-2]]
        assert lap[0] == pytest.approx(lap[1], rel=1e-6)  # a crop and its inverse
    low, high = (calibration_images(cfg, max_sigma=s)[-4] for s in (10.0, 60.0))
    assert np.std(np.diff(high[..., 0], axis=1)) > 3 * np.std(np.diff(low[..., 0], axis=1))


def test_low_noise_frames_lose_less_with_a_lower_calibration_top(datasets):
    """resnet_5x5_bn_3x3 on a BSD68 image at sigma 5: int8 error against float with the
    calibration noise topping out at 45 (the default for a 0-75 model) vs 75 (the old one)."""
    from bfcnn.trainer import tflite_weights
    from bfcnn.trainer.int8 import calibration_images
    from bfcnn.trainer.tflite_convert import convert, numpy_pyramid, run_tflite
    from bfcnn.trainer.models import multiscale
    from bfcnn.zoo import resolve
    from tests.conftest import noisy_pair
    name = "resnet_5x5_bn_3x3"
    cfg = repo_config(name)
    built = multiscale.build(cfg.model)
    tflite_weights.load_into(built.core, resolve(name).file_for("none"))
    _, noisy = noisy_pair(os.path.join(datasets, "BSD68", "test003.png"), 5, gray=True)
    h, w = (np.array(noisy.shape[:2]) // 16) * 16
    pyr = numpy_pyramid(noisy.reshape(noisy.shape[0], noisy.shape[1], 1)[:h, :w].astype(np.float32) / 255.0,
                        cfg.model.levels)
    reference = np.asarray(built.core(pyr))
    err = {}
    for top in (45.0, 75.0):
        out = run_tflite(convert(built.core, cfg.model.levels, "int8", calibration_images(cfg, max_sigma=top)), pyr)
        err[top] = float(np.sqrt(np.mean((out - reference) ** 2))) * 255.0
    assert err[45.0] < 0.95 * err[75.0], err     # measured 2.54 vs 2.82 grey levels rms


def test_calibration_sigma_must_be_positive(tmp_path):
    from bfcnn.trainer.export import ExportError, export
    cfg = repo_config("resnet_5x5_bn_3x3")
    with pytest.raises(ExportError, match="--calibration-sigma must be > 0.*default 45"):
        export(cfg, None, str(tmp_path), "x", ("int8",), weights_from="resnet_5x5_bn_3x3",
               calibration_sigma=0.0)
