"""Self-ensemble (Denoiser(ensemble=N)): the transforms undo themselves, the average is the
mean of the passes, it stays bias-free, it tiles exactly, and it really gains PSNR."""
import os

import numpy as np
import pytest

from bfcnn.runtime import Denoiser
from bfcnn.runtime import ensemble
from tests.conftest import noisy_pair, psnr

GRAY = "edge_gray_realtime"


@pytest.mark.parametrize("n", ensemble.CHOICES)
def test_every_transform_is_undone_by_its_inverse(n):
    img = np.arange(5 * 7 * 3).reshape(5, 7, 3)
    seen = set()
    for forward, inverse, transposed in ensemble.transforms(n):
        moved = forward(img)
        assert moved.shape == ((7, 5, 3) if transposed else (5, 7, 3))
        np.testing.assert_array_equal(inverse(moved), img)
        seen.add(moved.tobytes())
    assert len(seen) == n          # n different views of the frame, not one repeated


def test_average_is_the_mean_of_the_passes():
    # a 'model' that is not equivariant: x plus a ramp along the rows; the average of the 2-pass
    # ensemble (identity, rot180) is x plus the mean of the ramp and its reverse
    img = np.random.default_rng(0).random((6, 4, 1)).astype(np.float32)

    def run(frame):
        return frame + np.arange(frame.shape[0], dtype=np.float32)[:, None, None]
    out = ensemble.average(run, img, 2)
    np.testing.assert_allclose(out, img + 2.5, atol=1e-6)   # (i + (5 - i)) / 2
    np.testing.assert_allclose(ensemble.average(run, img, 1), run(img))


@pytest.mark.parametrize("bad", [0, 3, 16, 2.0, "2", True, None])
def test_bad_ensemble_values_name_the_choices(bad):
    with pytest.raises(ValueError, match=r"one of \(1, 2, 4, 8\)"):
        Denoiser(GRAY, ensemble=bad)


@pytest.mark.parametrize("n", [2, 8])
def test_ensemble_equals_mean_of_transformed_single_passes(n):
    # non-square, not a multiple of the stride: the transposed passes get other padding
    rng = np.random.default_rng(3)
    img = rng.random((45, 70)).astype(np.float32)
    one = Denoiser(GRAY, num_threads=2)
    expected = np.mean([inv(one(np.ascontiguousarray(fwd(img[:, :, None]))[:, :, 0])[:, :, None])
                        for fwd, inv, _ in ensemble.transforms(n)], axis=0)[:, :, 0]
    got = Denoiser(GRAY, num_threads=2, ensemble=n)(img)
    np.testing.assert_allclose(got, np.clip(expected, 0, 1), atol=2e-6)


def test_ensemble_stays_homogeneous_and_tiles_exactly():
    rng = np.random.default_rng(4)
    img = (0.6 * rng.random((96, 120, 3))).astype(np.float32)
    den = Denoiser("edge_color_realtime", num_threads=2, ensemble=4)
    out = den(img)
    np.testing.assert_allclose(den(np.float32(1.5) * img), np.float32(1.5) * out, atol=2e-5)
    assert np.count_nonzero(den(np.zeros((40, 56, 3), np.uint8))) == 0      # f(0) = 0
    tiled = Denoiser("edge_color_realtime", num_threads=2, ensemble=4, tile=48)
    assert np.max(np.abs(tiled(img) - out)) <= 1e-5


@pytest.mark.parametrize("quantization", ["none", "int8"])
def test_ensemble_gains_psnr_on_a_real_image(datasets, quantization):
    # BSD68 first 20 at sigma 25 (RESULTS "Self-ensemble"): +0.20 dB with 2 passes, +0.33 with
    # 8 for this model. A wrong inverse (a flipped output averaged with an upright one) loses dB
    clean, noisy = noisy_pair(os.path.join(datasets, "Set12", "05.png"), 25, gray=True)
    single = psnr(Denoiser(GRAY, num_threads=2, quantization=quantization)(noisy), clean)
    two = psnr(Denoiser(GRAY, num_threads=2, quantization=quantization, ensemble=2)(noisy), clean)
    eight = psnr(Denoiser(GRAY, num_threads=2, quantization=quantization, ensemble=8)(noisy), clean)
    assert two > single + 0.08, (single, two)
    assert eight > two + 0.04, (two, eight)
