"""Denoiser(strength=s): y + s * (f(y) - y), still bias-free, refused outside [0, 1.5]."""
import numpy as np
import pytest

from bfcnn.runtime import Denoiser
from bfcnn.runtime.cli import main as cli_main
from bfcnn.zoo import DEFAULT_MODEL


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(3)
    base = np.linspace(0.2, 0.8, 40 * 48, dtype=np.float32).reshape(40, 48, 1) * np.ones((1, 1, 3), np.float32)
    return np.clip(base + rng.normal(0, 0.08, base.shape).astype(np.float32), 0, 1).astype(np.float32)


@pytest.mark.parametrize("strength", [0.0, 0.5, 1.5])
def test_strength_mixes_input_and_output(frame, strength):
    full = Denoiser(num_threads=2)(frame)
    out = Denoiser(num_threads=2, strength=strength)(frame)
    want = np.clip(frame + np.float32(strength) * (full - frame), 0, 1)   # full is never clipped here
    assert 0 < full.min() and full.max() < 1
    np.testing.assert_allclose(out, want, atol=1e-5)
    if strength == 0.0:
        np.testing.assert_allclose(out, frame, atol=1e-6)
    # strength moves the output away from the model's by a measurable amount
    assert np.abs(out - full).mean() > 1e-3


def test_strength_keeps_homogeneity(frame):
    den = Denoiser(num_threads=2, strength=0.6)
    a = np.float32(0.5)
    np.testing.assert_allclose(den(frame * a), a * den(frame), atol=2e-4)


def test_default_model_and_strength_default():
    den = Denoiser()
    assert den.card.name == DEFAULT_MODEL and den.strength == 1.0


@pytest.mark.parametrize("bad", [-0.1, 1.6, float("nan"), "1", True])
def test_bad_strength_is_refused_with_the_range(bad):
    with pytest.raises(ValueError, match=r"strength must be a number in \[0.0, 1.5\]"):
        Denoiser(num_threads=1, strength=bad)


def test_cli_strength_out_of_range_exits_2(capsys, tmp_path):
    never = tmp_path / "never.mp4"
    assert cli_main(["--strength", "2", "--max-frames", "1", "--output", str(never)]) == 2
    assert not never.exists()
    assert "strength must be" in capsys.readouterr().err


@pytest.mark.parametrize("make", ["Denoiser", "AveragingDenoiser"])
def test_strength_is_checked_on_every_assignment(make):
    """strength set to NaN after construction gave white frames; every assignment is checked."""
    import bfcnn.runtime as rt
    den = getattr(rt, make)(num_threads=1)
    for bad in (float("nan"), 2.0, -0.1, "1", None, True):
        with pytest.raises(ValueError, match="strength must be a number"):
            den.strength = bad
    assert den.strength == 1.0
    den.strength = 0.5
    frame = np.full((32, 32, 3), 128, np.uint8)
    assert den(frame).dtype == np.uint8 and den.strength == 0.5
