"""Noise-conditioned models (card noise_input): the maps they are given, that the maps steer
them, and that every path (tiles, ensemble, streams, tiny frames, bad arguments) holds.
Joint homogeneity f(a*y, a*s) = a*f(y, s) of the shipped files: test_shipped_models.py."""
import os

import numpy as np
import pytest

import bfcnn
from bfcnn.runtime import AveragingDenoiser, Denoiser, noise, noise_maps, pyramid
from bfcnn.zoo import resolve
from tests.conftest import camera_profile, noisy_pair, psnr

NOISE_MODELS = [m for m in bfcnn.list_models() if resolve(m).noise_input]


def test_a_noise_conditioned_model_ships():
    assert NOISE_MODELS == ["edge_color_noisemap"]
    card = resolve("edge_color_noisemap")
    assert card.bias_free and card.channels == 3 and "dynamic" in card.quantization and card.onnx


def test_white_noise_keeps_the_stated_std_at_each_pyramid_level():
    rng = np.random.default_rng(0)
    levels = pyramid.pyramid_down(rng.normal(0, 1, (512, 512)).astype(np.float32), 4)
    measured = [float(lvl[8:-8, 8:-8].std()) for lvl in levels]
    assert np.allclose(measured, noise_maps.WHITE[:4], rtol=0.03), measured
    assert np.allclose(noise_maps.level_factors((), 3), noise_maps.WHITE[:3])
    # correlation multiplies from the level of its reduction on; the last one measured holds beyond
    f = noise_maps.level_factors((2.0, 3.0), 4)
    assert np.allclose(f / np.asarray(noise_maps.WHITE[:4]), [1, 2, 3, 3])


def test_maps_follow_the_profile_and_the_frame_counts():
    p = camera_profile(3)
    rng = np.random.default_rng(1)
    frame = rng.random((64, 96, 3), dtype=np.float32)
    levels = [lvl if lvl.ndim == 3 else lvl[:, :, None] for lvl in pyramid.pyramid_down(frame, 3)]
    maps = noise_maps.level_maps(p, levels)
    factors = noise_maps.level_factors(p.correlation, 3)
    for k, (lvl, m) in enumerate(zip(levels, maps)):
        luma = lvl @ np.array([0.114, 0.587, 0.299], np.float32)
        for c in range(3):
            want = np.interp(luma, p.intensity, p.std[c]) * factors[k]
            step = 0.03 / 255 * factors[k]   # one LUT step of the steepest segment
            assert np.abs(m[:, :, c] - want).max() <= step, (k, c)
    inv = np.full((64, 96), 0.25, np.float32)   # a mean of 4 frames: half the std
    halved = noise_maps.level_maps(p, levels, inv)
    for m, h in zip(maps, halved):
        assert np.allclose(h, 0.5 * m, rtol=1e-5)
    with pytest.raises(ValueError, match="3-channel noise profile cannot describe 1-channel"):
        noise_maps.level_maps(noise.NoiseProfile((0.5,), ((0.1,), (0.1,), (0.1,))), [lvl[:, :, :1] for lvl in levels])


@pytest.fixture(scope="module")
def kodak(datasets):
    clean, noisy = noisy_pair(os.path.join(datasets, "Kodak24", "kodim03.png"), 25)
    return clean[:256, :384], noisy[:256, :384]


def test_the_noise_map_steers_the_model(kodak):
    """Told the true noise it removes it; told a quarter of it, it leaves most of it; told four
    times as much, it smooths detail away: the map is used, not ignored."""
    clean, noisy = kodak
    true = noise.from_pair(noisy, clean)
    score = {a: psnr(_with_std_scaled(noisy, true, a), clean) for a in (0.25, 1.0, 4.0)}
    assert score[1.0] > score[0.25] + 1.5, score
    assert score[1.0] > score[4.0] + 1.0, score
    assert score[1.0] > psnr(noisy, clean) + 8.0, score


def _with_std_scaled(noisy, profile, a):
    told = noise.NoiseProfile(profile.intensity, tuple(tuple(a * v for v in row) for row in profile.std),
                              profile.correlation)
    return Denoiser("edge_color_noisemap", noise=told)(noisy)


def test_without_a_profile_it_estimates_the_frames_noise(kodak):
    clean, noisy = kodak
    given = Denoiser("edge_color_noisemap", noise=noise.from_pair(noisy, clean))(noisy)
    den = Denoiser("edge_color_noisemap")
    blind = den(noisy)
    assert den.last_noise is not None and den.last_noise.source == "frame"
    assert 20 / 255 < den.last_noise.sigma < 30 / 255
    assert psnr(blind, clean) > psnr(given, clean) - 0.3


def test_tiles_and_ensemble_see_the_same_maps(kodak):
    _, noisy = kodak
    p = noise.estimate(noisy)
    whole = Denoiser("edge_color_noisemap", noise=p)(noisy)
    assert np.array_equal(Denoiser("edge_color_noisemap", noise=p, tile=64)(noisy), whole)
    assert np.array_equal(Denoiser("edge_color_noisemap", noise=p, tile=64, tile_workers=2)(noisy), whole)
    two = Denoiser("edge_color_noisemap", noise=p, ensemble=2)(noisy)
    assert 0 < np.abs(two.astype(int) - whole).mean() < 2.0


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 7, 3), (9, 40), (30, 30, 1)])
def test_frames_too_small_to_estimate_still_denoise(shape):
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 256, shape, dtype=np.uint8)
    with pytest.warns(RuntimeWarning) if len(shape) == 2 or shape[-1] == 1 else _no_warning():
        out = Denoiser("edge_color_noisemap")(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_profile_file_is_read(tmp_path, kodak):
    clean, noisy = kodak
    p = noise.from_pair(noisy, clean)
    path = str(tmp_path / "camera.json")
    p.save(path)
    assert np.array_equal(Denoiser("edge_color_noisemap", noise=path)(noisy),
                          Denoiser("edge_color_noisemap", noise=p)(noisy))


def test_wrong_noise_arguments_name_the_fix():
    p = camera_profile(3)
    with pytest.raises(ValueError, match="blind model"):
        Denoiser("edge_color_realtime", noise=p)
    with pytest.raises(ValueError, match="drop shuffle"):
        Denoiser("edge_color_noisemap", noise=p, shuffle=True)
    with pytest.raises(TypeError, match="NoiseProfile"):
        Denoiser("edge_color_noisemap", noise=25.0)
    with pytest.raises(ValueError, match="channel"):
        Denoiser("edge_color_noisemap", noise=noise.NoiseProfile((0.5,), ((0.1,), (0.1,))))
    with pytest.raises(ValueError, match="blind model"):
        Denoiser("edge_color_realtime").raw(np.zeros((8, 8, 3), np.float32), noise=p)
    with pytest.raises(ValueError, match="inv_frames"):
        Denoiser("edge_color_noisemap").raw(np.zeros((8, 8, 3), np.float32), inv_frames=np.ones((4, 4), np.float32))


def test_a_stream_tells_the_model_the_noise_its_average_holds(datasets):
    """On a still scene the average of n frames holds 1/n of the noise variance; the stream
    passes that on (frame counts) with the noise it measured, and keeps most of the mean's gain."""
    clean, _ = noisy_pair(os.path.join(datasets, "Kodak24", "kodim05.png"), 0)
    clean = clean[:192, :256]
    rng = np.random.default_rng(4)
    frames = [np.clip(np.rint(clean + rng.normal(0, 15, clean.shape)), 0, 255).astype(np.uint8) for _ in range(12)]
    stream = AveragingDenoiser("edge_color_noisemap")
    outs = [stream(f) for f in frames]
    single = psnr(Denoiser("edge_color_noisemap")(frames[-1]), clean)
    mean = psnr(np.mean(frames, axis=0), clean)
    assert stream.noise is not None and 12 / 255 < stream.noise.sigma < 18 / 255
    assert psnr(outs[-1], clean) > max(single, mean) + 0.5, (psnr(outs[-1], clean), single, mean)
    assert stream.still.last_noise.sigma == pytest.approx(stream.noise.sigma, rel=0.2)   # the stream's, not a guess


def test_cli_tells_a_noise_model_the_saved_profile(tmp_path, kodak):
    """bfcnn-runtime --model edge_color_noisemap: the photo's own estimate by default, the
    --noise-profile file when given (here one that says the noise is half what it is: a
    different, less smoothed output)."""
    import cv2
    from bfcnn.runtime import cli
    clean, noisy = kodak
    src = tmp_path / "noisy.png"
    cv2.imwrite(str(src), noisy)
    true = noise.from_pair(noisy, clean)
    half = noise.NoiseProfile(true.intensity, tuple(tuple(v / 2 for v in row) for row in true.std), true.correlation)
    half.save(str(tmp_path / "half.json"))
    args = ["--input", str(src), "--model", "edge_color_noisemap", "--no-display", "--threads", "2"]
    assert cli.main(args + ["--output", str(tmp_path / "est.png")]) == 0
    assert cli.main(args + ["--output", str(tmp_path / "half.png"), "--noise-profile", str(tmp_path / "half.json")]) == 0
    est, halved = cv2.imread(str(tmp_path / "est.png")), cv2.imread(str(tmp_path / "half.png"))
    assert np.array_equal(est, Denoiser("edge_color_noisemap")(noisy))
    assert np.array_equal(halved, Denoiser("edge_color_noisemap", noise=half)(noisy))
    assert psnr(est, clean) > psnr(halved, clean) + 0.5
