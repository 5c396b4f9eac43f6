"""Noise profiles (bfcnn.runtime.noise): measured from a stream, saved, loaded, seeded, and the
CLI's --calibrate / --noise-profile, the way a user calls them."""
import json

import cv2
import numpy as np
import pytest

from bfcnn.runtime import AveragingDenoiser, cli, noise
from bfcnn.runtime.frame_average import FrameAverage


def _still_stream(rng, frames=12, sigma=0.03, blur=1.0, size=(160, 224), scale=1.0):
    """A still textured scene with correlated, signal-dependent noise, times `scale`."""
    h, w = size
    clean = np.float32(0.15) + np.float32(0.7) * cv2.resize(rng.random((6, 8, 3), dtype=np.float32), (w, h))
    out = []
    for _ in range(frames):
        n = cv2.GaussianBlur(rng.standard_normal((h, w, 3), dtype=np.float32), (0, 0), blur).reshape(h, w, 3)
        n *= np.float32(sigma) / np.float32(n.std()) * np.sqrt(clean / np.float32(0.5))
        out.append(np.float32(scale) * (clean + n))
    return out


def _measure(frames):
    fa = FrameAverage()
    for f in frames:
        fa.update(f, (0, 0))
    return fa.noise.profile()


def test_a_measured_profile_scales_with_the_frames():
    """profile(a * y) = a * profile(y): every intensity and std scales, the correlation stays
    (the measurement is ratios of medians and quantiles of the frames' own values)."""
    frames = _still_stream(np.random.default_rng(0))
    p1 = _measure(frames)
    p2 = _measure([np.float32(0.25) * f for f in frames])
    np.testing.assert_allclose(np.asarray(p2.intensity), 0.25 * np.asarray(p1.intensity), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(p2.std), 0.25 * np.asarray(p1.std), rtol=1e-3)
    np.testing.assert_allclose(p2.correlation, p1.correlation, rtol=1e-3)
    assert p1.correlation[0] > 1.3      # blurred noise: 2x2 means keep more than white noise's half


def test_save_load_round_trip_and_clear_errors(tmp_path):
    p = _measure(_still_stream(np.random.default_rng(1)))
    path = str(tmp_path / "cam.json")
    p.save(path)
    q = noise.load(path)
    assert q == p
    np.testing.assert_allclose(q.variance(np.array([0.5], np.float32)), p.variance(np.array([0.5], np.float32)))
    d = json.loads(open(path).read())
    d["stdd"] = d.pop("std")
    (tmp_path / "typo.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['stdd'\]"):
        noise.load(str(tmp_path / "typo.json"))
    (tmp_path / "new.json").write_text(json.dumps({**p.to_dict(), "version": 99}))
    with pytest.raises(ValueError, match="--calibrate"):
        noise.load(str(tmp_path / "new.json"))
    with pytest.raises(FileNotFoundError, match="--calibrate"):
        noise.load(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="increase"):
        noise.NoiseProfile((0.5, 0.2), ((0.01, 0.01),))
    with pytest.raises(TypeError, match="NoiseProfile"):
        AveragingDenoiser(noise_profile="cam.json")


def test_a_seeded_stream_starts_from_the_profile_and_then_measures():
    """A saved profile gates the first frames (the stream's profile is the seed before it
    measured anything) and the stream's measurements take over from there (measured on every
    4th frame, each a tenth of the running profile: 64 frames leave a fifth of the seed)."""
    rng = np.random.default_rng(2)
    frames = _still_stream(rng, frames=64)
    measured = _measure(frames)
    wrong = noise.NoiseProfile(measured.intensity, tuple(tuple(3.0 * v for v in row) for row in measured.std),
                               measured.correlation)    # a profile 3x too noisy
    fa = FrameAverage()
    fa.noise.seed(wrong)
    seeded = fa.noise.profile()
    np.testing.assert_allclose(np.asarray(seeded.std), np.asarray(wrong.std), rtol=1e-6)
    for f in frames:
        fa.update(f, (0, 0))
    after = np.asarray(fa.noise.profile().std).mean()
    assert abs(after - np.asarray(measured.std).mean()) < 0.5 * abs(np.asarray(wrong.std).mean() - after)


def test_cli_calibrates_a_still_scene_and_uses_the_profile(tmp_path, capsys):
    """--calibrate FILE saves what the stream measured on a still clip; --noise-profile FILE
    runs with it; --stats records the measured noise."""
    rng = np.random.default_rng(3)
    clip = str(tmp_path / "still.avi")
    frames = [np.clip(np.rint(f * 255), 0, 255).astype(np.uint8) for f in _still_stream(rng, frames=16)]
    writer = cv2.VideoWriter(clip, cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (frames[0].shape[1], frames[0].shape[0]))
    for f in frames:
        writer.write(f)
    writer.release()
    prof, stats = str(tmp_path / "cam.json"), str(tmp_path / "stats.json")
    assert cli.main(["--input", clip, "--output", str(tmp_path / "o.avi"), "--threads", "2",
                     "--calibrate", prof, "--stats", stats]) == 0
    p = noise.load(prof)
    assert p.source == "calibration" and p.camera == clip and p.frames >= 4 and p.size == (160, 224)
    assert 0.5 * 0.03 < p.sigma < 2.0 * 0.03             # the clip's noise, JPEG-compressed
    assert json.loads(open(stats).read())["noise"]["std"]
    assert cli.main(["--input", clip, "--output", str(tmp_path / "o2.avi"), "--threads", "2",
                     "--noise-profile", prof]) == 0
    assert cli.main(["--input", clip, "--output", str(tmp_path / "o3.avi"), "--no-temporal",
                     "--calibrate", str(tmp_path / "x.json")]) == 2
    assert "no noise measured" in capsys.readouterr().err


def test_pixel_shuffle_runs_the_model_on_the_sub_images_then_once_more():
    """Denoiser(shuffle=True): each stride-2 sub-image denoised alone, put back, and the whole
    frame denoised once more; by value against the same steps by hand; still homogeneous; odd
    sizes and tiny frames keep their shape."""
    from bfcnn.runtime import Denoiser
    rng = np.random.default_rng(4)
    plain = Denoiser("edge_color_realtime", num_threads=2)
    shuffled = Denoiser("edge_color_realtime", num_threads=2, shuffle=True)
    x = np.clip(0.5 + 0.05 * rng.standard_normal((64, 96, 3)), 0, 1).astype(np.float32)
    by_hand = np.empty_like(x)
    for i in (0, 1):
        for j in (0, 1):
            by_hand[i::2, j::2] = plain.raw(np.ascontiguousarray(x[i::2, j::2]))
    expected = np.clip(plain.raw(by_hand), 0, 1)
    out = shuffled(x)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert np.abs(out - plain(x)).max() > 1e-3          # not the plain model's output
    np.testing.assert_allclose(shuffled(x * np.float32(0.5)), 0.5 * out, atol=1e-5)
    for shape in ((1, 1, 3), (3, 5, 3), (33, 47, 3)):
        y = rng.integers(0, 256, shape, dtype=np.uint8)
        assert shuffled(y).shape == shape
    with pytest.raises(ValueError, match="shuffle"):
        Denoiser(shuffle=1)


def test_cli_shuffle_is_for_frames_denoised_alone(tmp_path, capsys):
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), np.random.default_rng(5).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    assert cli.main(["--input", str(photo), "--output", str(tmp_path / "o.png"), "--shuffle"]) == 0
    assert (tmp_path / "o.png").exists()
    clip = str(tmp_path / "c.avi")
    writer = cv2.VideoWriter(clip, cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for _ in range(3):
        writer.write(np.full((48, 64, 3), 128, np.uint8))
    writer.release()
    assert cli.main(["--input", clip, "--output", str(tmp_path / "o.avi"), "--shuffle"]) == 2
    assert "--shuffle applies to frames denoised alone; add --no-temporal" in capsys.readouterr().err


def test_the_profile_of_the_nearest_gain_is_picked(tmp_path, monkeypatch, capsys):
    """Saved profiles record the camera's gain; of several, the stream starts from the one
    measured at the gain nearest (in ratio) to the camera's now: Picamera2's analogue gain from
    its frame metadata (the fake reports 4.0: gain 8 is nearer than 1)."""
    import os
    import sys
    base = _measure(_still_stream(np.random.default_rng(6)))
    profiles = [noise.NoiseProfile(base.intensity, base.std, base.correlation, "pi", settings={"analogue_gain": g})
                for g in (1.0, 8.0)]
    assert noise.nearest(profiles, {"analogue_gain": 4.0}).settings["analogue_gain"] == 8.0
    assert noise.nearest(profiles, {"analogue_gain": 1.5}).settings["analogue_gain"] == 1.0
    assert noise.nearest(profiles, {}).settings["analogue_gain"] == 1.0
    files = []
    for i, p in enumerate(profiles):
        files.append(str(tmp_path / f"gain{i}.json"))
        p.save(files[-1])
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
    try:
        import picamera2
        monkeypatch.setitem(sys.modules, "picamera2", picamera2)
        from bfcnn.runtime.cameras import Picamera2Source
        src = Picamera2Source(64, 48, 30)
        assert src.settings() == {"analogue_gain": 4.0, "digital_gain": 1.0, "exposure_time_us": 16000.0}
        src.close()
        assert cli.main(["--picamera2", "--width", "64", "--height", "48", "--max-frames", "3",
                         "--noise-profile"] + files) == 0
        assert "'analogue_gain': 8.0" in capsys.readouterr().err
    finally:
        sys.path.pop(0)


@pytest.mark.parametrize("blur, corr", [(0.0, 1.0), (0.8, 1.67)])
def test_one_frame_estimate_reads_correlated_noise(blur, corr):
    """noise.estimate on one frame: the std of white and of correlated noise within 20% of the
    truth (noise.from_pair on the same frame), and its correlation within 0.25. Neighbour
    differences (what a blind model's fine scale sees) read this correlated noise 2x too low."""
    rng = np.random.default_rng(7)
    clean = (np.float32(0.15) + np.float32(0.7) * cv2.resize(rng.random((5, 7, 3), dtype=np.float32), (448, 320)))
    n = rng.standard_normal(clean.shape).astype(np.float32)
    if blur:
        n = cv2.GaussianBlur(n, (0, 0), blur).reshape(clean.shape)
    noisy = clean + n * np.float32(0.03) / n.std()
    est, true = noise.estimate(noisy), noise.from_pair(noisy, clean)
    assert est.sigma == pytest.approx(true.sigma, rel=0.2)
    assert est.correlation[0] == pytest.approx(corr, abs=0.25)
    assert true.correlation[0] == pytest.approx(corr, abs=0.1)
    neighbours = float(np.std(np.diff(noisy, axis=1))) / np.sqrt(2.0)
    assert (neighbours < 0.6 * true.sigma) == (blur > 0)
    with pytest.raises(ValueError, match="too few"):
        noise.estimate(noisy[:16, :16])


def test_a_large_shift_does_not_inflate_the_measured_noise():
    """The full-resolution variance was read over the rows and columns a shift uncovers (no
    past there): a 100 px pan read 1.5x the noise, 140 px 20x. Only pixels with a past count."""
    rng = np.random.default_rng(8)
    fa = FrameAverage()
    for _ in range(8):
        fa.update(np.float32(0.5) + np.float32(0.02) * rng.standard_normal((64, 256, 3), dtype=np.float32),
                  (0.0, 100.0))
    assert fa.noise.profile().sigma == pytest.approx(0.02, rel=0.2)


def test_damaged_profiles_and_headers_are_errors_not_crashes(tmp_path):
    """Values a JSON file can hold that Python cannot turn into numbers, and image headers that
    point past the file, end in the documented errors."""
    from bfcnn.runtime.sources import SourceError, read_image
    for text in ('{"intensity": [0.5], "std": [[0.01]], "frames": 1e999}', '{"intensity": "123", "std": [[1]]}',
                 '{"intensity": [0.5], "std": [[0.01]], "size": [1, 2, 3]}', "[" * 100000 + "]" * 100000):
        (tmp_path / "p.json").write_text(text)
        with pytest.raises(ValueError):
            noise.load(str(tmp_path / "p.json"))
    big = b"II+\x00\x08\x00\x00\x00" + (2 ** 64 - 1).to_bytes(8, "little") + b"\0" * 64
    (tmp_path / "b.tif").write_bytes(big)
    with pytest.raises(SourceError):
        read_image(str(tmp_path / "b.tif"))
    with pytest.raises(ValueError, match="one dtype"):
        noise.from_pair(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="even number"):
        noise.estimate(np.zeros((64, 64, 3), np.float32), block=7)
