"""Global motion for frame averaging: the shift estimate on noisy frames, the alignment's
definition, and the cut measure."""
import os

import cv2
import numpy as np
import pytest

from bfcnn.runtime import motion
from tests.conftest import require_set


@pytest.fixture(scope="module")
def photo():
    folder = require_set("Kodak24")
    img = cv2.imread(os.path.join(folder, sorted(os.listdir(folder))[0]))
    return img.astype(np.float32) / 255.0


@pytest.mark.parametrize("size", [(470, 640), (300, 400), (296, 402), (200, 200)])
@pytest.mark.parametrize("sigma", [0, 25, 50])
def test_shift_is_found_within_a_pixel_on_noisy_frames(photo, size, sigma):
    """Frame sizes whose thumbnails are odd or not fast DFT sizes included: OpenCV pads those,
    which biased the estimate by 2 pixels before the thumbnails were cropped to fast sizes."""
    h, w = size
    rng = np.random.default_rng(sigma)
    errors = []
    for _ in range(8):
        dy, dx = (int(v) for v in rng.integers(-14, 15, 2))
        prev = photo[20:20 + h, 20:20 + w]
        cur = photo[20 + dy:20 + dy + h, 20 + dx:20 + dx + w]       # cur[y, x] = prev[y + dy, x + dx]
        noisy = np.clip(cur + sigma / 255.0 * rng.standard_normal(cur.shape, dtype=np.float32), 0, 1)
        est = motion.estimate(motion.thumbnail(prev), motion.thumbnail(noisy))
        errors.append(max(abs(est.shift[0] - dy), abs(est.shift[1] - dx)))
        assert not est.cut and est.response > motion.RELIABLE_RESPONSE
    assert max(errors) <= (2 if min(size) <= 200 else 1), errors


def test_another_scene_reads_as_a_cut(photo):
    """Two parts of one photo (similar tones: mean |difference| 0.079 after the best shift,
    under the aligned threshold): no clear correlation peak, so a cut."""
    a = photo[:240, :320]
    b = np.ascontiguousarray(photo[-240:, -320:][::-1])
    b = np.clip(b + 0.1 * np.random.default_rng(0).standard_normal(b.shape, dtype=np.float32), 0, 1)
    assert motion.estimate(motion.thumbnail(a), motion.thumbnail(b)).cut


@pytest.mark.parametrize("sigma", [15, 50, 75])
def test_a_flat_noisy_scene_is_no_cut_and_no_shift(sigma):
    """Noise on a featureless scene gives random correlation peaks (seen: a 280-pixel 'shift')."""
    rng = np.random.default_rng(sigma)
    flat = np.full((480, 640, 3), 0.5, np.float32)
    noisy = np.clip(flat + sigma / 255.0 * rng.standard_normal(flat.shape, dtype=np.float32), 0, 1)
    est = motion.estimate(motion.thumbnail(flat), motion.thumbnail(noisy))
    assert not est.cut and max(abs(v) for v in est.shift) <= 1


def test_tiny_frames_get_no_shift():
    rng = np.random.default_rng(0)
    a, b = rng.random((40, 40, 3), dtype=np.float32), rng.random((40, 40, 3), dtype=np.float32)
    assert motion.estimate(motion.thumbnail(a), motion.thumbnail(b)).shift == (0, 0)


@pytest.mark.parametrize("shift", [(0, 0), (3, -2), (-7, 5), (0, 11), (50, 0), (-1, -60)])
def test_align_takes_the_past_where_it_exists_and_nothing_elsewhere(shift):
    rng = np.random.default_rng(1)
    prev = rng.random((30, 40, 3), dtype=np.float32)
    cur = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    out, filled = motion.align(prev, shift), motion.align(prev, shift, fill=cur, scale=1 / 255.0)
    dy, dx = shift
    for y in range(30):
        for x in range(40):
            inside = 0 <= y + dy < 30 and 0 <= x + dx < 40
            assert np.array_equal(out[y, x], prev[y + dy, x + dx] if inside else np.zeros(3, np.float32))
            np.testing.assert_allclose(filled[y, x], prev[y + dy, x + dx] if inside else cur[y, x] / 255.0,
                                       rtol=1e-6)


@pytest.mark.parametrize("sigma", [0, 25, 50])
def test_small_shifts_are_refined_at_half_resolution(photo, sigma):
    """Slow pans move 1-3 pixels a frame: the 1/4-resolution estimate alone was off by one for
    half of them; refined on the 1/2 level (as frame averaging does, from its half-resolution luma)."""
    from bfcnn.runtime import pyramid
    rng = np.random.default_rng(sigma)

    def luma(level):
        return np.ascontiguousarray(cv2.cvtColor(level, cv2.COLOR_BGR2GRAY))
    errors = []
    for dy, dx in [(0, 1), (1, 0), (0, 2), (1, 1), (0, 3), (-2, 1), (5, -7), (0, 0)]:
        levels = []
        for oy, ox in ((0, 0), (dy, dx)):
            crop = photo[20 + oy:460 + oy, 20 + ox:620 + ox]
            noisy = np.clip(crop + sigma / 255.0 * rng.standard_normal(crop.shape, dtype=np.float32), 0, 1)
            levels.append(pyramid.pyramid_down(noisy, 3, 1.0))
        est = motion.estimate(luma(levels[0][2]), luma(levels[1][2]), luma(levels[0][1]), luma(levels[1][1]))
        errors.append(max(abs(est.shift[0] - dy), abs(est.shift[1] - dx)))
    assert max(errors) <= 1 and np.mean(errors) <= 0.25, errors


def test_estimating_leaves_the_thumbnails_as_they_were(photo):
    """cv2.phaseCorrelate with a window overwrites its inputs (OpenCV 5.0): the estimate must not
    hand that on to the thumbnails frame averaging keeps."""
    a, b = motion.thumbnail(photo[:240, :320]), motion.thumbnail(photo[4:244, 6:326])
    fa, fb = a.copy(), b.copy()
    motion.estimate(a, b, np.repeat(np.repeat(a, 2, 0), 2, 1), np.repeat(np.repeat(b, 2, 0), 2, 1))
    assert np.array_equal(a, fa) and np.array_equal(b, fb)


@pytest.mark.parametrize("k", [1.0, 0.25, 0.1])
def test_cut_decisions_hold_in_dark_videos(photo, k):
    """A video k times darker, noise included (what a shorter exposure gives), gets the same
    decisions: the cut to another scene is found, the same scene shifted and re-noised is not a cut."""
    rng = np.random.default_rng(3)
    a = photo[:240, :320]
    b = np.ascontiguousarray(photo[-240:, -320:][::-1])
    shifted = photo[3:243, 2:322]

    def noisy(img, sigma):
        return np.clip(k * img + k * sigma / 255.0 * rng.standard_normal(img.shape, dtype=np.float32), 0, 1)
    assert motion.estimate(motion.thumbnail(noisy(a, 10)), motion.thumbnail(noisy(b, 10))).cut
    for sigma in (10, 25, 50):
        est = motion.estimate(motion.thumbnail(noisy(a, sigma)), motion.thumbnail(noisy(shifted, sigma)))
        assert not est.cut, sigma


@pytest.mark.parametrize("true", [(0.0, 0.0), (0.3, 0.0), (0.5, 0.5), (-0.45, 0.2), (1.3, -0.8)])
def test_residual_shift_finds_fractions_of_a_pixel(photo, true):
    """Lucas-Kanade against a reference moved by a known sub-pixel shift (bicubic), noisy at
    sigma 12: within 0.1 px from a whole-pixel start, the same for the frame x 3 and the
    reference x 3 (ratios only); a flat plane gives None (nothing fixes a shift there)."""
    luma = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    ref = np.ascontiguousarray(luma[100:220, 100:260])
    m = np.float32([[1, 0, true[1]], [0, 1, true[0]]])
    frame = cv2.warpAffine(ref, m, (160, 120), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    frame = (frame + np.random.default_rng(3).normal(0, 12 / 255, frame.shape)).astype(np.float32)
    start = (float(np.rint(true[0])), float(np.rint(true[1])))
    found = motion.residual_shift(ref, frame, start)
    assert found is not None and np.abs(np.subtract(found, true)).max() < 0.1, found
    scaled = motion.residual_shift(ref * np.float32(3), frame * np.float32(3), start)
    np.testing.assert_allclose(scaled, found, atol=1e-4)
    assert motion.residual_shift(np.full_like(ref, 0.5), frame, start) is None
