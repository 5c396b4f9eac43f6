"""The motion-gated running average of a stream's noisy frames, and how many frames each pixel
holds: the first half of frame averaging (bfcnn.runtime.averaging).

A blind bias-free model denoises an input of lower noise better, and averaging N aligned frames
divides the noise std by sqrt(N) without blurring anything that did not move. So each frame is
blended with a running average of the frames before it, aligned by the global shift, with a
per-pixel weight that falls where the past does not fit. The shift is estimated in whole pixels
from frame to frame (bfcnn.runtime.motion.estimate), then refined to a fraction of a pixel
against the average itself (motion.residual_shift), and the average is resampled by it
(bicubic) when the fraction exceeds SUBPIXEL: real pans and hand shake are rarely whole pixels.

    a_t = y_t + G * (align(a_{t-1}) - y_t),   G = w * n / (n + 1),
    w = exp(-max(0, z - ALLOWANCE) / THRESHOLD)

n is how many frames the aligned average holds at that pixel (its noise variance is that of one
frame over n), capped at MAX_FRAMES, 0 where the shift uncovered it. z measures the mismatch
d = y_t - align(a_{t-1}) (at half resolution): the larger of the blurred mismatch squared (a
ghost: d keeps its sign over a neighbourhood) and the excess of its blurred magnitude (moving
texture), each in units of what it is where nothing moved, **measured on this stream**:
- the noise level per intensity (bfcnn.runtime.noise.StillDifferences: medians of d^2 per
  quantile bin of the past's luma; a camera's noise after its tone curve depends on intensity);
- each statistic's median (the ghost) or median and spread (the texture) over the frame, as
  running means over frames. Correlated camera noise keeps far more of its variance through
  the blur than white-noise theory says, and a gate built on that theory read a still camera's
  noise as motion: it held about 2 frames of a still scene with camera noise.
The allowance (ALLOWANCE: a chi-square of one degree of freedom passes it 0.7% of the time)
lets a still scene hold every frame instead of a soft weight that kept ~0.7 of the past on pure
noise. Most of a frame holds still, so medians over it are the noise's. Every statistic is a
ratio: w is degree 0, the average is linear in the frames, and the whole pipeline stays
bias-free, f(a*y_1..t) = a*f(y_1..t).
"""
from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

from bfcnn.runtime import motion
from bfcnn.runtime.frames import luma
from bfcnn.runtime.noise import StillDifferences, running

BLUR = 4.0            # px: the neighbourhood of the mismatch statistics (Gaussian sigma)
THRESHOLD = 2.0       # z beyond the allowance at which the past's weight falls to 1/e
ALLOWANCE = 16.0      # a ghost statistic (in units of its median where nothing moved) still taken for noise
TEXTURE_ALLOWANCE = 64.0   # the same for the texture statistic, in its spreads squared (8 spreads)
MAX_FRAMES = 16.0     # at most this many frames in the average (G <= 16/17)
MOVING_FRAMES = 4.0   # a past resampled by a fraction of a pixel counts as at most this many frames
SUBPIXEL = 0.1        # px: a fraction of the shift worth resampling the average for
RATE = 0.1            # a frame's share in the running gate statistics
MEASURE_EVERY = 4     # the noise is measured on every 4th frame (after the first 4): it changes slowly


class FrameAverage:
    """The motion-gated running average of a stream's noisy frames (float32 [H, W, C] in [0, 1])
    and, per pixel, how many frames it holds."""

    def __init__(self, blur: float = BLUR, threshold: float = THRESHOLD, max_frames: float = MAX_FRAMES,
                 allowance: float = ALLOWANCE):
        self.blur, self.threshold, self.max_frames = float(blur), float(threshold), float(max_frames)
        self.allowance = float(allowance)
        self.noise = StillDifferences()
        self.forget()

    def reset(self) -> None:
        self.average: Optional[np.ndarray] = None
        self.count: Optional[np.ndarray] = None
        self.luma: Optional[np.ndarray] = None    # the average's luma at half resolution
        self.variance: Optional[np.ndarray] = None  # one frame's noise variance per pixel, half resolution

    def forget(self) -> None:
        """reset(), and forget the stream's noise too (a new camera or frame size)."""
        self.reset()
        self.noise.reset()
        self._ghost = self._level = self._spread = None   # the gate statistics' running medians / spread
        self._tick = 0

    def register(self, fine: np.ndarray, shift: Tuple[int, int]) -> Tuple[float, float]:
        """The shift (dy, dx, full-resolution pixels, floats) that aligns the average with a
        frame whose luma at half resolution is `fine` (float32 [H // 2, W // 2]): `shift` (the
        whole-pixel estimate) refined by motion.residual_shift on the average's luma. Measured
        against the average itself, so no error of earlier frames' estimates piles up; `shift`
        when there is no average or the refinement fails or strays more than a pixel from it."""
        if self.average is None or self.luma is None or self.luma.shape != fine.shape:
            return float(shift[0]), float(shift[1])
        # full / half resolution per axis: exactly 2 only for even sides (W // 2 of an odd W)
        fy, fx = self.average.shape[0] / fine.shape[0], self.average.shape[1] / fine.shape[1]
        found = motion.residual_shift(self.luma, fine, (shift[0] / fy, shift[1] / fx))
        if found is None or max(abs(fy * found[0] - shift[0]), abs(fx * found[1] - shift[1])) > 1.0:
            return float(shift[0]), float(shift[1])
        return fy * found[0], fx * found[1]

    def update(self, frame: np.ndarray, shift: Tuple[float, float], small: Optional[np.ndarray] = None,
               fine: Optional[np.ndarray] = None) -> np.ndarray:
        """Blend `frame` (float32 [H, W, C]) into the average aligned by `shift` (dy, dx in
        pixels, motion.align's convention; a fraction over SUBPIXEL is resampled, bicubic);
        returns the new average (kept: do not modify it). The weights and the frame counts
        live at half resolution (a quarter of the work; the area average already smooths the
        noise, and their blur is BLUR / 2 there: the same neighbourhood).
        small / fine: the frame area-reduced to (W // 2, H // 2) ([H // 2, W // 2, C]) and its
        luma ([H // 2, W // 2]), when the caller has them already."""
        h, w, c = frame.shape
        hw = (max(1, w // 2), max(1, h // 2))
        if small is None:
            small = cv2.resize(frame, hw, interpolation=cv2.INTER_AREA)
        small = small.reshape(hw[1], hw[0], c)
        if fine is None:
            fine = luma(small)
        if self.average is None or self.average.shape != frame.shape:
            return self._start(frame, hw, fine)
        whole = (int(np.rint(shift[0])), int(np.rint(shift[1])))
        resampled = max(abs(shift[0] - whole[0]), abs(shift[1] - whole[1])) > SUBPIXEL
        if resampled:
            past = _resampled(self.average, float(shift[0]), float(shift[1]))
            uncovered = _outwards(shift)      # the border rows / columns without a past
        else:                                 # a smaller fraction is dropped
            shift = uncovered = whole
            past = self.average if whole == (0, 0) else motion.align(self.average, whole)
        half = (int(np.rint(shift[0] / 2.0)), int(np.rint(shift[1] / 2.0)))
        n = self.count if half == (0, 0) else motion.align(self.count[:, :, None], half)[:, :, 0]
        if resampled:   # each bicubic step softens the past a little, and the steps pile up on a pan
            n = np.minimum(n, np.float32(MOVING_FRAMES))
        # the area reduction is linear: reduce(frame) - reduce(past) = reduce(frame - past), and
        # the subtraction runs on a quarter of the pixels
        dh = cv2.subtract(small, cv2.resize(past, hw, interpolation=cv2.INTER_AREA)).reshape(hw[1], hw[0], c)
        have = n > 0
        sample = have[::4, ::4]
        if not np.any(sample):
            return self._start(frame, hw, fine)
        inv_n = np.float32(1.0) / np.maximum(n, np.float32(1e-6))
        mean_c = np.full((1, c), 1.0 / c, np.float32)
        dsq = np.square(dh)
        dsq_c = cv2.transform(dsq, mean_c).reshape(hw[1], hw[0]) if c > 1 else dsq.reshape(hw[1], hw[0])
        dl = luma(dh)
        past_luma = fine - dl                     # the aligned past's luma (the reduction is linear)
        self._tick += 1
        if self.noise.frames < MEASURE_EVERY or self._tick % MEASURE_EVERY == 0:
            self._measure(frame, past, dh, dsq, dsq_c, past_luma, inv_n, sample, shift)
        # one frame's noise at each pixel (half resolution), looked up on every other pixel: the
        # level changes slowly with intensity
        quarter = past_luma[::2, ::2]
        self.variance = cv2.resize(self.noise.variance_half(quarter), hw, interpolation=cv2.INTER_LINEAR)
        inv_base = np.float32(1.0) / np.maximum(self.variance * (np.float32(1.0) + inv_n), np.float32(1e-12))
        sigma = self.blur / 2.0
        bsq = np.square(cv2.GaussianBlur(dh, (0, 0), sigma).reshape(dh.shape))
        ghost = (cv2.transform(bsq, mean_c).reshape(hw[1], hw[0]) if c > 1 else bsq.reshape(hw[1], hw[0])) * inv_base
        dabs = np.abs(dh)
        dabs_c = cv2.transform(dabs, mean_c).reshape(hw[1], hw[0]) if c > 1 else dabs.reshape(hw[1], hw[0])
        energy = np.square(cv2.GaussianBlur(dabs_c, (0, 0), sigma)) * inv_base
        # what each statistic gives where nothing moved, measured on this stream (correlated
        # noise keeps more of its variance through the blur than white-noise theory says)
        k = self.noise.frames
        self._ghost = running(self._ghost, float(np.median(ghost[::4, ::4][sample])), k, RATE)
        q25, q50, q75 = np.percentile(energy[::4, ::4][sample], (25, 50, 75))
        self._level = running(self._level, float(q50), k, RATE)
        self._spread = running(self._spread, float(q75 - q25) / 1.349, k, RATE)
        ghost *= np.float32(1.0 / max(self._ghost, 1e-12))
        texture = np.square(np.maximum(energy - np.float32(self._level), np.float32(0.0))
                            / np.float32(max(self._spread, 1e-6)))
        z = np.maximum(ghost, texture * np.float32(self.allowance / TEXTURE_ALLOWANCE)) - np.float32(self.allowance)
        weight = np.exp(-np.maximum(z, np.float32(0.0)) / np.float32(self.threshold)) * have
        g = np.minimum(weight * n / (n + np.float32(1.0)),
                       np.float32(self.max_frames / (self.max_frames + 1.0))).astype(np.float32, copy=False)
        for region in motion.uncovered_regions(hw[1], hw[0], _outwards((shift[0] / 2.0, shift[1] / 2.0))):
            g[region] = 0.0                   # the counts and the luma see the frame alone there too
        var_new = np.square(np.float32(1.0) - g) + np.square(g) * inv_n   # in units of one frame's
        self.count = (np.float32(1.0) / np.maximum(var_new, np.float32(1e-6))).astype(np.float32, copy=False)
        g_full = cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR)
        for region in motion.uncovered_regions(h, w, uncovered):   # no past there: the frame alone
            g_full[region] = 0.0
        self.average = cv2.blendLinear(past, frame, g_full, np.float32(1.0) - g_full).reshape(frame.shape)
        # the new average's luma at half resolution, for the next frame's registration: the same
        # blend on the reduced planes (small - g * dh), instead of reducing the full average
        self.luma = fine - g * dl
        return self.average

    def _measure(self, frame: np.ndarray, past: np.ndarray, dh: np.ndarray, dsq: np.ndarray,
                 dsq_c: np.ndarray, past_luma: np.ndarray, inv_n: np.ndarray, sample: np.ndarray,
                 shift: Tuple[float, float]) -> None:
        """Feed this frame's differences from the aligned past to self.noise: every 4th pixel of
        the half-resolution planes (dh, dsq [h, w, C], dsq_c, past_luma, inv_n [h, w]; sample:
        where the past exists, on that grid), and how the variance of the differences changes
        to full resolution (every 8th row, every 2nd column: a sixteenth of the pixels) and to
        quarter resolution (the spatial correlation)."""
        c = frame.shape[2]
        half = float(np.median(dsq_c[::4, ::4][sample]))
        if not half > 0.0:       # no noise to measure (a noiseless or synthetic source)
            return
        # full resolution away from the rows and columns the shift uncovered (no past there)
        ys, xs = motion.covered_region(frame.shape[0], frame.shape[1], _outwards(shift))
        inner_f, inner_p = frame[ys, xs][::8, ::2], past[ys, xs][::8, ::2]
        if inner_f.size == 0:
            return
        full = float(np.median(np.square(inner_f - inner_p).mean(axis=2)))
        h2, w2 = dh.shape[:2]
        quarter = None   # (the quarter-resolution median is robust to the uncovered border)
        if h2 >= 4 and w2 >= 4:
            dq = cv2.resize(dh, (w2 // 2, h2 // 2), interpolation=cv2.INTER_AREA).reshape(h2 // 2, w2 // 2, c)
            quarter = float(np.median(np.square(dq).mean(axis=2))) / half
        self.noise.add(dsq[::4, ::4][sample].reshape(-1, c), past_luma[::4, ::4][sample],
                       inv_n[::4, ::4][sample], full / half, quarter, frame.shape[:2])

    def _start(self, frame: np.ndarray, hw: Tuple[int, int], fine: np.ndarray) -> np.ndarray:
        self.average = frame.copy()
        self.count = np.ones((hw[1], hw[0]), np.float32)
        self.luma = fine
        return self.average


def _outwards(shift: Tuple[float, float]) -> Tuple[int, int]:
    """A sub-pixel shift rounded away from zero: every row / column it leaves partly without a past."""
    return int(np.sign(shift[0]) * np.ceil(abs(shift[0]))), int(np.sign(shift[1]) * np.ceil(abs(shift[1])))


def _resampled(image: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """image [H, W, C] float32 moved by a sub-pixel shift: out[y, x] = image[y + dy, x + dx],
    bicubic (linear in the image: the stream stays bias-free); pixels beyond the border take
    the nearest edge (the caller gives them no weight). A translation is separable: one 4-tap
    filter per axis for the fraction (a third of cv2.warpAffine's time, same values to 2e-5),
    then a whole-pixel move."""
    whole = (int(np.floor(dy)), int(np.floor(dx)))
    ky, kx = _cubic_taps(dy - whole[0]), _cubic_taps(dx - whole[1])
    out = cv2.sepFilter2D(image, -1, kx, ky, anchor=(1, 1), borderType=cv2.BORDER_REPLICATE).reshape(image.shape)
    return out if whole == (0, 0) else motion.align(out, whole, fill=out)


def _cubic_taps(t: float) -> np.ndarray:
    """The bicubic weights (OpenCV's, a = -0.75) of the samples at -1, 0, 1, 2 for a point at
    fraction t in [0, 1) past sample 0; they sum to 1."""
    a = -0.75
    x = np.array([1.0 + t, t, 1.0 - t, 2.0 - t])
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    return np.where(x <= 1.0, near, far).astype(np.float32)
