"""dataset.camera_noise: the physics (variance linear in linear light before the ISP), the
camera look after it (spatially correlated, signal-dependent), alignment of clean and noisy,
determinism, the typed config, and a training run that uses it."""
import json
import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from bfcnn.config import CameraNoiseConfig, ConfigError, parse_pipeline
from bfcnn.trainer.data import camera_noise as cn
from bfcnn.trainer.data.dataset import sample_batch
from bfcnn.trainer.data.noise import training_pair
from tests.conftest import require_set

PLAIN = CameraNoiseConfig(fraction=1.0, jpeg_fraction=0.0, isp_denoise_fraction=0.0, tone_curve_fraction=0.0)


@pytest.fixture(scope="module")
def photo():
    folder = require_set("CBSD68")
    img = cv2.imread(os.path.join(folder, sorted(os.listdir(folder))[3]))
    return np.ascontiguousarray(img[:128, :192])


def _lag1(r: np.ndarray) -> float:
    r = r - r.mean()
    return float(np.mean(r[:, 1:] * r[:, :-1]) / np.mean(r * r))


def test_sensor_noise_variance_is_linear_in_intensity():
    a, b = 4e-3, 1e-5
    rng = np.random.default_rng(0)
    xs = np.array([0.02, 0.1, 0.3, 0.6, 0.9], np.float32)
    var = [np.var(cn.add_sensor_noise(np.full((200, 200), x, np.float32), a, b, 0.0, rng) - x) for x in xs]
    slope, intercept = np.polyfit(xs, var, 1)
    assert slope == pytest.approx(a, rel=0.05)
    assert intercept == pytest.approx(b, abs=2e-5)
    np.testing.assert_allclose(var, a * xs + b, rtol=0.05)


def test_row_noise_adds_one_offset_per_row():
    rng = np.random.default_rng(1)
    out = cn.add_sensor_noise(np.full((300, 300), 0.2, np.float32), 0.0, 1e-4, 2.0, rng) - 0.2
    # row means carry std row_ratio * sqrt(b) = 0.02; pure read noise would give 0.01 / sqrt(300)
    assert np.std(out.mean(axis=1)) == pytest.approx(0.02, rel=0.2)


def test_mosaic_phases_demosaic_back_in_place():
    h, w = 32, 40
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([0.2 + 0.6 * xx / w, 0.3 + 0.3 * yy / h, 0.8 - 0.5 * xx / w], -1).astype(np.float32)
    for phase in ("RGGB", "GRBG", "GBRG", "BGGR"):
        for method in ("bilinear", "edge_aware"):
            out = cn.demosaic(cn.mosaic(rgb, phase), phase, method)
            assert np.abs(out - rgb)[2:-2, 2:-2].max() < 2e-3, (phase, method)
        out = cn.demosaic(cn.mosaic(rgb, phase), phase, "vng")
        assert np.abs(out - rgb)[2:-2, 2:-2].max() < 0.02, phase


def test_residual_after_the_isp_is_spatially_correlated(photo):
    lags = []
    rng = np.random.default_rng(2)
    for _ in range(6):
        target, noisy = cn.camera_pair(photo, PLAIN, rng)
        lags.append(_lag1(noisy.astype(np.float64)[:, :, 1] - target[:, :, 1]))
    assert np.median(lags) > 0.3          # white noise: 0
    white = photo + np.random.default_rng(0).normal(0, 5, photo.shape)
    assert abs(_lag1(white[:, :, 1] - photo[:, :, 1])) < 0.05


def test_noise_depends_on_the_signal():
    rng = np.random.default_rng(4)
    flat_dark, flat_bright = np.full((64, 64, 3), 40, np.uint8), np.full((64, 64, 3), 200, np.uint8)
    c = CameraNoiseConfig(fraction=1.0, shot_noise=[5e-3, 5e-3], jpeg_fraction=0.0, isp_denoise_fraction=0.0,
                          tone_curve_fraction=0.0)
    stds = {}
    for name, img in (("dark", flat_dark), ("bright", flat_bright)):
        r = [np.std(np.subtract(*cn.camera_pair(img, c, rng)[::-1], dtype=np.float64)) for _ in range(4)]
        stds[name] = np.mean(r)
    # shot noise grows with the signal, the sRGB curve compresses the bright end: both ends differ
    assert abs(stds["dark"] - stds["bright"]) / stds["bright"] > 0.15


def test_clean_target_is_the_isp_render_and_stays_aligned(photo):
    rng = np.random.default_rng(5)
    for channels in (3, 1):
        img = photo if channels == 3 else cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)[:, :, None]
        no_isp_nr = CameraNoiseConfig(fraction=1.0, isp_denoise_fraction=0.0, chroma_denoise_fraction=0.0)
        target, noisy = cn.camera_pair(img, no_isp_nr, rng)
        assert target.shape == noisy.shape == img.shape and target.dtype == noisy.dtype == np.uint8
        # the noiseless render is the photo up to gamut clipping: within a few grey levels
        assert np.mean(np.abs(target.astype(int) - img)) < 3.0
        # alignment: the noisy render matches the target best at zero shift
        t, n = target[:, :, 0].astype(np.float64), noisy[:, :, 0].astype(np.float64)
        errs = {(dy, dx): np.mean((np.roll(n, (dy, dx), (0, 1)) - t)[4:-4, 4:-4] ** 2)
                for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
        assert min(errs, key=errs.get) == (0, 0)


def _luma_chroma_std(photo, c: CameraNoiseConfig, seed: int):
    """Mean std of the noise (noisy - target) in Y and in Cr/Cb, over 6 crops."""
    rng = np.random.default_rng(seed)
    y, cc = [], []
    for _ in range(6):
        target, noisy = cn.camera_pair(photo, c, rng)
        r = cv2.cvtColor(noisy, cv2.COLOR_BGR2YCrCb).astype(np.float64) - cv2.cvtColor(target, cv2.COLOR_BGR2YCrCb)
        y.append(r[:, :, 0].std())
        cc.append(r[:, :, 1:].std())
    return np.mean(y), np.mean(cc)


def test_chroma_noise_reduction_leaves_luma_grain(photo):
    """The ISP's chroma stage is drawn apart from its luma stage: with it, chroma noise falls
    well under luma noise (camera JPEGs: luma grain over faint colour blotches) and luma is
    untouched; without either stage, chroma noise is as strong as luma noise or stronger."""
    c = dict(fraction=1.0, shot_noise=[4e-3, 4e-3], jpeg_fraction=0.0, isp_denoise_fraction=0.0,
             tone_curve_fraction=0.0)
    raw_y, raw_c = _luma_chroma_std(photo, CameraNoiseConfig(**c, chroma_denoise_fraction=0.0), 7)
    nr_y, nr_c = _luma_chroma_std(photo, CameraNoiseConfig(**c, chroma_denoise_fraction=1.0,
                                                           chroma_denoise_sigma=[4.0, 4.0]), 7)
    assert raw_c > 0.8 * raw_y
    assert nr_c < 0.4 * nr_y
    # luma moves only where blurred chroma changes what clips at black and white
    assert nr_y == pytest.approx(raw_y, rel=0.2)


def test_same_generator_same_pair(photo):
    c = CameraNoiseConfig(fraction=1.0)
    a = cn.camera_pair(photo, c, np.random.default_rng(9))
    b = cn.camera_pair(photo, c, np.random.default_rng(9))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("key, value, match", [
    ("fraction", 1.5, "fraction: a share"),
    ("shot_noise", [0.01, 0.001], "shot_noise: expected \\[min, max\\]"),
    ("jpeg_quality", [0, 90], "jpeg_quality"),
    ("chroma_denoise_fraction", -0.1, "chroma_denoise_fraction: a share"),
    ("chroma_denoise_sigma", [3.0, 1.0], "chroma_denoise_sigma: expected \\[min, max\\] pixels"),
    ("demosaic", ["bilinar"], "Did you mean 'bilinear'"),
    ("fractoin", 0.5, "dataset.camera_noise.fractoin: unknown key. Did you mean 'fraction'"),
])
def test_config_is_typed_and_closed(key, value, match):
    with pytest.raises(ConfigError, match=match):
        parse_pipeline({"dataset": {"camera_noise": {key: value}}})


def test_batches_mix_camera_and_gaussian_noise():
    model = {"input_shape": ["?", "?", 3]}
    cfg = parse_pipeline({"model": model, "dataset": {"color_mode": "rgb", "input_shape": [32, 32, 3],
                                                      "batch_size": 32, "camera_noise": {"fraction": 0.5}}})
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 40, 3), dtype=np.uint8) for _ in range(4)]
    batch = sample_batch(images, cfg.dataset, seed=1, step=2)
    cam = batch.camera > 0
    assert 0 < cam.sum() < 32
    assert not np.array_equal(batch.noisy[cam], batch.clean[cam])
    assert np.array_equal(batch.noisy[~cam], batch.clean[~cam])
    clean, noisy = (x.numpy() for x in training_pair(*batch, cfg.dataset, tf.constant([1, 2], tf.int32)))
    np.testing.assert_allclose(noisy[cam], batch.noisy[cam] / 255.0, atol=1e-6)
    np.testing.assert_allclose(clean[cam], batch.clean[cam] / 255.0, atol=1e-6)
    assert np.abs(noisy[~cam] - clean[~cam]).mean() > 1e-3          # the Gaussian kinds still apply
    # without camera noise, crops are exactly those of older recipes
    plain = parse_pipeline({"model": model, "dataset": {"color_mode": "rgb", "input_shape": [32, 32, 3],
                                                        "batch_size": 32}})
    old = sample_batch(images, plain.dataset, seed=1, step=2)
    assert np.array_equal(old.clean[~cam], batch.clean[~cam]) and not old.camera.any()


def test_training_with_camera_noise_runs(tmp_path):
    from bfcnn.config import load_pipeline
    from bfcnn.trainer.train_loop import train
    from tests.trainer.tiny import tiny_config
    path = tiny_config(tmp_path, steps=30, checkpoint_every=30, camera_noise={"fraction": 0.5})
    result = train(load_pipeline(path), str(tmp_path / "run"), progress=False)
    assert result.steps == 30 and np.isfinite(result.last_loss)
    log = [json.loads(line) for line in open(tmp_path / "run" / "train_log.jsonl")]
    assert log[-1]["psnr"] > log[-1]["psnr_noisy"] - 3.0


@pytest.mark.parametrize("jpeg", [0.0, 1.0])
@pytest.mark.parametrize("method", ["bilinear", "edge_aware", "vng"])
def test_without_noise_the_pair_differs_by_little_but_compression(photo, jpeg, method):
    """The pair may differ by the noise (and JPEG's quantization) only: never by demosaicking or
    chroma subsampling, which the model cannot undo and which would drown the noise in the loss
    (a full-RGB target held this to 28 dB, a target without 4:2:0 chroma to 27)."""
    c = CameraNoiseConfig(fraction=1.0, shot_noise=[1e-6, 1e-6], jpeg_fraction=jpeg, jpeg_quality=[90, 90],
                          demosaic=[method])
    rng = np.random.default_rng(6)
    values = []
    for _ in range(3):
        target, noisy = cn.camera_pair(photo, c, rng)
        mse = np.mean((target.astype(np.float64) - noisy) ** 2)
        values.append(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))
    assert np.mean(values) > (35.0 if jpeg else 44.0)


def test_pixel_shuffled_crops_carry_whiter_noise_over_the_same_camera():
    """dataset.pixel_shuffle_fraction: those camera-noise crops are a stride-2 sub-image of a crop
    twice the size, so their noise is the camera's at half resolution: nearly white where the
    full-resolution crops' noise is correlated; same shape, same camera."""
    folder = require_set("CBSD68")
    images = [cv2.imread(os.path.join(folder, f)) for f in sorted(os.listdir(folder))[:6]]
    model = {"input_shape": ["?", "?", 3]}
    cam = {"fraction": 1.0, "jpeg_fraction": 0.0, "isp_denoise_fraction": 0.0, "tone_curve_fraction": 0.0,
           "shot_noise": [0.01, 0.01]}
    lags = {}
    for share in (0.0, 1.0):
        cfg = parse_pipeline({"model": model, "dataset": {"color_mode": "rgb", "input_shape": [48, 48, 3],
                                                          "batch_size": 16, "camera_noise": cam,
                                                          "pixel_shuffle_fraction": share}})
        batch = sample_batch(images, cfg.dataset, seed=1, step=2)
        assert batch.clean.shape == batch.noisy.shape == (16, 48, 48, 3) and batch.camera.all()
        r = batch.noisy.astype(np.float32) - batch.clean
        lags[share] = float(np.median([_lag1(x.mean(axis=2)) for x in r]))
    assert lags[0.0] > 0.3 and lags[1.0] < lags[0.0] - 0.25, lags


def test_pixel_shuffle_needs_camera_noise():
    with pytest.raises(ConfigError, match="pixel_shuffle_fraction.*camera_noise.fraction"):
        parse_pipeline({"dataset": {"pixel_shuffle_fraction": 0.5}})
