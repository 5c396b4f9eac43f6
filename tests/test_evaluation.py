"""The evaluation protocols' own promises: a benchmark built on a protocol that does not do what it
says measures something else."""
import cv2
import numpy as np

from bfcnn.evaluation import flat_noise_stream, residual_stream

H = W = 256
DARK, BRIGHT = 60, 180          # the two halves' intensities
DARK_STD, BRIGHT_STD = 2.0, 6.0  # the camera's noise std at each
GHOST = 40.0                    # the pair's edge residual, grey levels


def _pair():
    """A reference (dark left half, bright right half, thin bright lines in the dark half) and a
    residual like a real pair's: correlated noise whose level follows the intensity, plus the
    edges of the scene (the reference is not exactly registered with the noisy shot)."""
    clean = np.full((H, W, 3), DARK, np.uint8)
    clean[:, W // 2:] = BRIGHT
    for row in (60, 190):
        clean[row:row + 2, 10:W // 2 - 10] = 120
    rng = np.random.default_rng(0)
    white = rng.normal(0.0, 1.0, (H, W, 3)).astype(np.float32)
    corr = cv2.GaussianBlur(white, (0, 0), 1.0)
    corr /= corr.std()
    level = np.where(clean.astype(np.float32) >= 150, BRIGHT_STD, DARK_STD).astype(np.float32)
    c = clean.astype(np.float32)
    edges = c - cv2.GaussianBlur(c, (0, 0), 1.0)
    edges *= GHOST / np.abs(edges).max()
    return clean, corr * level + edges, edges


def _noise(frames, clean):
    return [f.astype(np.float32) - clean.astype(np.float32) for f in frames]


def test_flat_blocks_keep_the_level_per_intensity_and_correlation_and_drop_the_edges():
    clean, residual, edges = _pair()
    noises = _noise(flat_noise_stream(clean, residual, 4, seed=3), clean)
    dark, bright = np.s_[:, 16:W // 2 - 48], np.s_[:, W // 2 + 48:]
    for n in noises:
        assert abs(n[dark].std() / DARK_STD - 1) < 0.15, n[dark].std()
        assert abs(n[bright].std() / BRIGHT_STD - 1) < 0.15, n[bright].std()
        assert np.abs(n[dark]).max() < 6 * DARK_STD          # no edge of the pair (GHOST = 20 std)
        rho = np.corrcoef(n[:, :-1].ravel(), n[:, 1:].ravel())[0, 1]
        assert rho > 0.55, rho                               # still correlated (0.78 in the residual, blocks' seams aside)
    assert abs(np.corrcoef(noises[0].ravel(), noises[1].ravel())[0, 1]) < 0.15   # independent frames


def test_moved_residuals_carry_the_pairs_edges():
    # the negative control of the test above: the same pair through residual_stream keeps its
    # edges, moved to a fresh place each frame
    clean, residual, _ = _pair()
    noises = _noise(residual_stream(clean, residual, 2, seed=3), clean)
    assert max(np.abs(n[:, :W // 2 - 48]).max() for n in noises) > 15 * DARK_STD


def test_flat_blocks_refuse_a_frame_smaller_than_a_block():
    clean = np.zeros((16, 64, 3), np.uint8)
    try:
        flat_noise_stream(clean, np.zeros((16, 64, 3), np.float32), 1, seed=0)
    except ValueError as e:
        assert "block=32" in str(e)
    else:
        raise AssertionError("a 64x16 frame was accepted with 32 px blocks")
