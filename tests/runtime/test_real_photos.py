"""Real camera noise (PolyU100, evaluation only): every shipped colour model, and the gray
models trained on camera noise, must clean real photos, not only white Gaussian noise. On five pairs (every 20th: all five cameras, ISO 800 to
12800) a model trained on white noise alone gained +0.10 / +0.11 dB (the colour models before
camera-noise training); the bar is +0.3 dB."""
import numpy as np
import pytest

import bfcnn
from bfcnn.evaluation import psnr, real_pairs
from bfcnn.runtime import Denoiser
from bfcnn.zoo import resolve
from tests.conftest import require_set

COLOUR = [m for m in bfcnn.list_models() if resolve(m).channels == 3]


@pytest.fixture(scope="module")
def pairs():
    require_set("PolyU100")
    return real_pairs()[::20]


@pytest.mark.parametrize("name", COLOUR)
def test_colour_models_clean_real_camera_noise(name, pairs):
    den = Denoiser(name, num_threads=2)
    gains = [psnr(den(noisy), ref) - psnr(noisy, ref) for _, noisy, ref in pairs]
    assert np.mean(gains) > 0.3, (name, np.round(gains, 2))
    assert min(gains) > 0.0, (name, np.round(gains, 2))     # no photo made worse


@pytest.fixture(scope="module")
def luma_pairs():
    require_set("PolyU100")
    return real_pairs(gray=True)[::20]


@pytest.mark.parametrize("name", ["edge_gray_realtime", "edge_gray_quality"])
def test_gray_models_clean_real_camera_noise(name, luma_pairs):
    """On the luma of the same five pairs the camera-trained gray models gained +1.02 and +1.15 dB;
    the same two trained on Gaussian noise alone +0.17 and +0.43, the original-name models
    -0.09 to +0.50. The bar, +0.75, sits between."""
    den = Denoiser(name, num_threads=2)
    gains = [psnr(den(noisy), ref) - psnr(noisy, ref) for _, noisy, ref in luma_pairs]
    assert np.mean(gains) > 0.75, (name, np.round(gains, 2))
    assert min(gains) > 0.0, (name, np.round(gains, 2))


@pytest.mark.parametrize("name", [m for m in bfcnn.list_models() if "dynamic" in resolve(m).quantization])
def test_int8_files_lose_under_0_3_db_to_float_on_real_photos(name, pairs, luma_pairs):
    """The dynamic int8 file of a model against its float file on the same real pairs (gray
    models on their luma). Measured on all 100 pairs: -0.06 (colour realtime), -0.04 (colour
    quality), -0.01 dB (gray realtime); a static int8 file of the colour realtime model: -2.0."""
    data = luma_pairs if resolve(name).channels == 1 else pairs
    fast = Denoiser(name, num_threads=2, quantization="dynamic")
    ref_model = Denoiser(name, num_threads=2, quantization="none")
    loss = [psnr(ref_model(noisy), ref) - psnr(fast(noisy), ref) for _, noisy, ref in data]
    assert np.mean(loss) < 0.3, (name, np.round(loss, 3))
    assert np.mean(loss) > -0.3, (name, np.round(loss, 3))   # nor far better: not some other model's file
