"""AveragingDenoiser: frames averaged where the scene holds still, then a still model. Bias-free
over the whole stream, the still model exactly on a first frame and after a cut or reset, a
real gain on a still shot, and no ghost of a moving object or a cut."""
import os

import cv2
import numpy as np
import pytest

from bfcnn.evaluation import add_noise, psnr
from bfcnn.runtime import AveragingDenoiser, Denoiser
from bfcnn.runtime.frame_average import FrameAverage
from bfcnn.video_scenes import scene
from tests.conftest import require_set


@pytest.fixture(scope="module")
def photos():
    folder = require_set("Kodak24")
    names = sorted(os.listdir(folder))
    out = []
    for n in names[:3]:
        img = cv2.imread(os.path.join(folder, n))
        out.append(img if img.shape[1] >= img.shape[0] else np.ascontiguousarray(np.rot90(img)))
    return out


def _noisy(clean, sigma, seed):
    rng = np.random.default_rng(seed)
    return [np.clip(np.rint(c + rng.normal(0, sigma, c.shape)), 0, 255).astype(np.uint8) for c in clean]


def _gain(photos, name, sigma=25.0, frames=12):
    clean = scene(name, photos[0], photos[1], frames=frames, size=(240, 320), seed=1)
    noisy = _noisy(clean, sigma, 3)
    still, avg = Denoiser(num_threads=2), AveragingDenoiser(num_threads=2)
    a = [psnr(avg(y), c) for y, c in zip(noisy, clean)]
    s = [psnr(still(y), c) for y, c in zip(noisy, clean)]
    return np.array(a) - np.array(s), avg


def test_a_still_shot_gains_and_the_first_frame_is_the_still_model(photos):
    gain, avg = _gain(photos, "static")
    assert gain[0] == 0.0                         # no past: the still model's output
    assert gain[5:].mean() > 1.5, gain            # measured +2.9 dB at 640x480
    assert avg.stats.frames == 12 and avg.stats.restarts == 1 and avg.stats.cuts == 0


def test_motion_costs_nothing_and_a_cut_starts_over(photos):
    gain, _ = _gain(photos, "object")
    assert gain[1:].min() > -0.2, gain            # the moving object leaves no ghost
    gain, avg = _gain(photos, "cut")
    k = 12 // 2
    assert avg.stats.cuts == 1
    assert gain[k] == pytest.approx(0.0, abs=1e-9)   # the frame after the cut: the still model
    assert gain[k + 1:].mean() > 0.5


def test_the_stream_is_bias_free():
    """f(a*y_1..t) = a*f(y_1..t) for float frames: the weights depend on ratios only."""
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.random((96, 128, 3), dtype=np.float32), (0, 0), 3) * np.float32(0.4)
    frames = [np.clip(base + np.float32(0.05) * rng.standard_normal(base.shape, dtype=np.float32), 0, 0.6)
              for _ in range(6)]
    one, other = AveragingDenoiser(num_threads=2), AveragingDenoiser(num_threads=2)
    for y in frames:
        a, b = one(y), other(y * np.float32(0.5))
        np.testing.assert_allclose(b, 0.5 * a, rtol=2e-3, atol=2e-5)
    assert np.abs(AveragingDenoiser(num_threads=2)(np.zeros_like(base))).max() == 0.0


def test_a_panning_stream_is_bias_free(photos):
    """The same for a sub-pixel pan scaled by 0.3 (not a power of two): the motion estimate, the
    registration and the resampling must move the past the same way for the darker copy (the
    phase correlation once found another peak at 0.03x)."""
    from bfcnn.video_scenes import view
    src = photos[1].astype(np.float32) / np.float32(255.0)
    c = np.array([(src.shape[1] - 1) / 2.0, (src.shape[0] - 1) / 2.0])
    rng = np.random.default_rng(5)
    frames = [np.clip(view(src, c + np.array([0.37, -0.21]) * t, 0.0, 1.0, 120, 160)
                      + np.float32(0.04) * rng.standard_normal((120, 160, 3), dtype=np.float32), 0, 1)
              for t in range(10)]
    for a in (0.3, 0.03):
        one, other = AveragingDenoiser(num_threads=2), AveragingDenoiser(num_threads=2)
        for y in frames:
            out, scaled = one(y), other((y * np.float32(a)).astype(np.float32))
            assert one.stats.last_shift == pytest.approx(other.stats.last_shift, abs=1e-3)
            np.testing.assert_allclose(scaled, np.float32(a) * out, rtol=2e-3, atol=2e-5 * a)


def test_reset_and_new_sizes_start_over(photos):
    frame = photos[0][:120, :160]
    avg, still = AveragingDenoiser(num_threads=2), Denoiser(num_threads=2)
    for _ in range(3):
        avg(frame)
    avg.reset()
    assert np.array_equal(avg(frame), still(frame))
    small = photos[0][:64, :96]
    assert np.array_equal(avg(small), still(small)) and avg.stats.restarts == 3


def _correlated_noise(rng, shape, sigma, blur):
    """Noise of std `sigma` whose neighbours share it (a Gaussian blur of white noise, rescaled),
    as demosaicking and a camera's ISP leave it; blur 0: white."""
    n = rng.standard_normal(shape, dtype=np.float32)
    if blur:
        n = cv2.GaussianBlur(n, (0, 0), blur).reshape(shape)
    return np.float32(sigma) * n / np.float32(n.std())


@pytest.mark.parametrize("blur", [0.0, 0.8, 1.5])
def test_a_still_scene_accumulates_its_frames(blur):
    """On a still scene the average holds (nearly) every frame, white noise or correlated: after
    16 frames the median pixel holds 15 or more, and the average's noise is under that of 12
    frames. The gate's statistics are measured on the stream, so correlated noise is not read
    as motion (a gate built on white-noise theory held ~2 frames here). With the cap on the
    past's weight (16/17) the count stays under 33 however long the scene holds still."""
    rng = np.random.default_rng(1)
    fa = FrameAverage()
    clean = np.float32(0.2) + np.float32(0.6) * cv2.resize(rng.random((8, 8, 3), dtype=np.float32), (128, 128))
    for t in range(40):
        out = fa.update(clean + _correlated_noise(rng, clean.shape, 0.05, blur), (0, 0))
        if t == 15:
            assert np.median(fa.count) >= 15
            assert np.std(out - clean) < 0.05 / np.sqrt(12)
    assert np.median(fa.count) <= 33


def test_the_stream_measures_its_noise():
    """The stream's noise profile: the level per intensity of signal-dependent noise (std
    proportional to sqrt(intensity) here) and its correlation (white: about 1; blurred: more),
    measured from the frames alone."""
    rng = np.random.default_rng(2)
    clean = np.repeat(np.linspace(0.1, 0.9, 256, dtype=np.float32)[None, :, None], 256, axis=0).repeat(3, axis=2)
    for blur, lo, hi, rtol in ((0.0, 0.85, 1.15, 0.12), (1.0, 1.5, 4.0, 0.2)):
        fa = FrameAverage()
        for _ in range(10):
            noise = _correlated_noise(rng, clean.shape, 1.0, blur) * np.float32(0.04) * np.sqrt(clean)
            fa.update(clean + noise, (0, 0))
        profile = fa.noise.profile()
        assert profile is not None and profile.channels == 3 and profile.frames >= 4
        assert lo < profile.correlation[0] < hi, profile.correlation
        expected = 0.04 * np.sqrt(np.asarray(profile.intensity))
        measured = np.sqrt(np.mean(np.square(profile.std), axis=0))
        np.testing.assert_allclose(measured, expected, rtol=0.25)   # the darkest bin spans the steepest part
        np.testing.assert_allclose(measured[1:], expected[1:], rtol=rtol)   # correlated: fewer independent samples


def test_gray_streams_average_too(photos):
    clean = [cv2.cvtColor(c, cv2.COLOR_BGR2GRAY) for c in scene("static", photos[0], photos[1], frames=8,
                                                                  size=(240, 320), seed=1)]
    noisy = _noisy(clean, 25.0, 4)
    avg, still = AveragingDenoiser("edge_gray_realtime", num_threads=2), Denoiser("edge_gray_realtime", num_threads=2)
    outs = [avg(y) for y in noisy]
    assert outs[0].shape == clean[0].shape and outs[0].dtype == np.uint8
    gain = np.mean([psnr(o, c) - psnr(still(y), c) for o, y, c in zip(outs[4:], noisy[4:], clean[4:])])
    assert gain > 1.0, gain


def test_a_sub_pixel_pan_moves_the_average(photos):
    """A pan of 0.34 px per frame: every frame's own shift rounds to 0 (the average never moved
    at first; then it moved a whole pixel every third frame). Registered against the average,
    each frame's sub-pixel shift is found and the average resampled by it."""
    from bfcnn.video_scenes import view
    src = photos[0]
    frames = [view(src, (200.0, 150.0 + 0.34 * t), 0.0, 1.0, 160, 224) for t in range(10)]
    avg = AveragingDenoiser(num_threads=2)
    moves = []
    for y in _noisy(frames, 5.0, 6):
        avg(y)
        moves.append(avg.stats.last_shift)
    assert moves[0] == (0.0, 0.0)
    dy, dx = np.array(moves[1:]).T
    assert np.abs(dy - 0.34).max() < 0.12 and np.abs(dx).max() < 0.12, moves


def test_sub_pixel_pans_and_shake_gain_as_a_still_shot_does(photos):
    """Resampling by the registered sub-pixel shift: a diagonal half-pixel pan and a hand-held
    shake keep most of a still shot's gain (measured at 320x240, sigma 25: +2.1 and +2.3 dB
    against +2.8 still, from +0.95 and +1.3 with whole-pixel shifts only)."""
    from bfcnn.video_scenes import view
    src = photos[0]
    c = np.array([(src.shape[1] - 1) / 2.0, (src.shape[0] - 1) / 2.0])
    pan = [np.clip(np.rint(view(src, c + 0.5 * (t - 6), 0.0, 1.0, 240, 320)), 0, 255).astype(np.uint8)
           .reshape(240, 320, 3) for t in range(12)]
    noisy = _noisy(pan, 25.0, 7)
    still, avg = Denoiser(num_threads=2), AveragingDenoiser(num_threads=2)
    gain = np.array([psnr(avg(y), c_) - psnr(still(y), c_) for y, c_ in zip(noisy, pan)])
    assert gain[5:].mean() > 1.5 and gain[1:].min() > 0.0, gain
    gain, _ = _gain(photos, "shake")
    assert gain[5:].mean() > 1.5 and gain[1:].min() > -0.2, gain


def test_the_int8_file_averages_as_well(photos):
    """quantization="dynamic" reaches the still model under the average: same gain within 0.3 dB."""
    clean = scene("static", photos[0], photos[1], frames=8, size=(240, 320), seed=1)
    noisy = _noisy(clean, 25.0, 3)
    runs = {}
    for q in ("none", "dynamic"):
        avg = AveragingDenoiser(num_threads=2, quantization=q)
        assert avg.quantization == q and avg.still.quantization == q
        runs[q] = np.array([psnr(avg(y), c) for y, c in zip(noisy, clean)])
    assert np.abs(runs["dynamic"] - runs["none"]).max() < 0.3, runs
    assert runs["dynamic"][5:].mean() > runs["dynamic"][0] + 1.0, runs


def test_a_slow_pan_at_low_noise_never_loses_to_the_single_frame():
    """A sub-pixel pan resamples the average every frame, and each bicubic step softens it; a
    past that counted all its frames kept the accumulated blur (at sigma 15 some frames fell
    0.8 dB under the single-frame model). A resampled past counts as MOVING_FRAMES at most."""
    folder = require_set("CBSD432")
    names = sorted(os.listdir(folder))[10:12]
    ims = [cv2.imread(os.path.join(folder, f)) for f in names]
    ims = [im if im.shape[1] >= im.shape[0] else np.ascontiguousarray(np.rot90(im)) for im in ims]
    clean = scene("slow_pan", ims[0], ims[1], frames=16, size=(288, 448), seed=0)
    rng = np.random.default_rng(7)
    noisy = [add_noise(c, 15.0, rng) for c in clean]
    avg = AveragingDenoiser(num_threads=2)
    gains = [psnr(avg(y), c) - psnr(avg.still(y), c) for y, c in zip(noisy, clean)]
    assert min(gains) > -0.1 and np.mean(gains[5:]) > 2.0, np.round(gains, 2)


def test_the_synthetic_camera_pans_without_cuts():
    """The README's "no camera?" source: its ring of frames pans out and back, so a stream sees
    one scene also when it drops frames, as a live run slower than the camera does (it once
    jumped 21 px at the end of the ring: at 640x480 with 60% of the frames dropped, 5 cuts in
    51 frames; live, 23 in 150)."""
    from bfcnn.runtime.cameras import SyntheticCamera
    cam = SyntheticCamera(640, 480, fps=1000.0, count=150)
    stream = AveragingDenoiser(num_threads=2)
    keep = np.random.default_rng(0).random(150) < 0.4
    for frame, kept in zip(cam.frames(), keep):
        if kept:
            stream(frame)
    assert stream.stats.frames == 51 and stream.stats.cuts == 0 and stream.stats.restarts == 1


def test_an_open_denoiser_is_reused_not_loaded_twice():
    """The CLI's default stream path hands its --model Denoiser to frame averaging."""
    from bfcnn.runtime import Denoiser
    den = Denoiser(num_threads=2)
    stream = AveragingDenoiser(still=den)
    assert stream.still is den and stream.card is den.card and stream.num_threads == 2
    with pytest.raises(ValueError, match="one or the other"):
        AveragingDenoiser("edge_gray_realtime", still=den)
