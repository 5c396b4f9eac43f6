"""Temporal noise reduction before a still model: average the stream's aligned noisy frames where
the scene holds still, then denoise that average.

A blind bias-free model denoises an input of lower noise better, and averaging N aligned frames
divides the noise std by sqrt(N) without blurring anything that did not move. So each frame is
blended with a running average of the frames before it, aligned by the global shift
(bfcnn.runtime.motion), with a per-pixel weight that falls where the past does not fit:

    a_t = y_t + G * (align(a_{t-1}) - y_t),   G = w * n / (n + 1),   w = exp(-z / THRESHOLD)

n is how many frames the aligned average holds at that pixel (its noise variance is that of one
frame over n), capped at MAX_FRAMES, 0 where the shift uncovered it. z measures the mismatch
d = y_t - align(a_{t-1}) in units of what noise alone would give: the larger of the blurred
mismatch squared (a ghost: d keeps its sign over a neighbourhood) and the excess of its blurred
energy (moving texture), each over its own noise expectation. The noise level is the median of
d^2 over the frame (most of a frame holds still), so nothing depends on the scale of the frame:
w is degree 0, the average is linear in the frames, and the whole pipeline stays bias-free,
f(a*y_1..t) = a*f(y_1..t). The still model then sees less noise where the scene is still and
the frame alone where it moves.

Unlike the trained temporal models (bfcnn.runtime.video), no weights are learned here: any still
model works, and the three constants were set on scenes made from the training images (CBSD432),
not on the test sets.
"""
from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

BLUR = 1.5            # px: the neighbourhood of the mismatch statistics (Gaussian sigma)
THRESHOLD = 2.0       # z at which the past's weight falls to 1/e
MAX_FRAMES = 16.0     # at most this many frames in the average (G <= 16/17)
_CHI2_MEDIAN = 0.455  # median of a chi-square with 1 degree of freedom: median(d^2) / var(d)


class FrameAverage:
    """The motion-gated running average of a stream's noisy frames (float32 [H, W, C] in [0, 1])
    and, per pixel, how many frames it holds."""

    def __init__(self, blur: float = BLUR, threshold: float = THRESHOLD, max_frames: float = MAX_FRAMES):
        self.blur, self.threshold, self.max_frames = float(blur), float(threshold), float(max_frames)
        self.average: Optional[np.ndarray] = None
        self.count: Optional[np.ndarray] = None

    def reset(self) -> None:
        self.average = self.count = None

    def update(self, frame: np.ndarray, shift: Tuple[int, int], small: Optional[np.ndarray] = None) -> np.ndarray:
        """Blend `frame` (float32 [H, W, C]) into the average aligned by `shift` (motion.align's
        convention); returns the new average (kept: do not modify it). The weights and the
        frame counts live at half resolution (a quarter of the work; the area average already
        smooths the noise, and their blur is BLUR / 2 there: the same neighbourhood).
        small: the frame area-reduced to (W // 2, H // 2), when the caller has it already."""
        from bfcnn.runtime import motion
        h, w, c = frame.shape
        hw = (max(1, w // 2), max(1, h // 2))
        if self.average is None or self.average.shape != frame.shape:
            return self._start(frame, hw)
        past = self.average if shift == (0, 0) else motion.align(self.average, shift)
        half = (int(round(shift[0] / 2)), int(round(shift[1] / 2)))
        n = self.count if half == (0, 0) else motion.align(self.count[:, :, None], half)[:, :, 0]
        if small is None:
            small = cv2.resize(frame, hw, interpolation=cv2.INTER_AREA)
        # the area reduction is linear: reduce(frame) - reduce(past) = reduce(frame - past), and
        # the subtraction runs on a quarter of the pixels
        dh = cv2.subtract(small, cv2.resize(past, hw, interpolation=cv2.INTER_AREA)).reshape(hw[1], hw[0], c)
        have = n > 0
        sample = have[::4, ::4]
        if not np.any(sample):
            return self._start(frame, hw)
        inv_n = np.float32(1.0) / np.maximum(n, np.float32(1e-6))
        mean_c = np.full((1, c), 1.0 / c, np.float32)
        dsq = np.square(dh)
        dsq_c = cv2.transform(dsq, mean_c).reshape(hw[1], hw[0]) if c > 1 else dsq.reshape(hw[1], hw[0])
        var_d = float(np.median(dsq_c[::4, ::4][sample])) / _CHI2_MEDIAN   # noise dominates most pixels
        var_y = max(var_d / (1.0 + float(np.median(inv_n[::4, ::4][sample]))), 1e-12)
        base = np.float32(var_y) * (np.float32(1.0) + inv_n)               # E[d^2] when nothing moved
        sigma = self.blur / 2.0
        area = np.float32(4.0 * np.pi * sigma ** 2)                         # a Gaussian blur's noise gain is 1/area
        bsq = np.square(cv2.GaussianBlur(dh, (0, 0), sigma).reshape(dh.shape))
        ghost = (cv2.transform(bsq, mean_c).reshape(hw[1], hw[0]) if c > 1 else bsq.reshape(hw[1], hw[0])) \
            * area / base
        energy = cv2.GaussianBlur(dsq_c, (0, 0), sigma)
        spread = np.float32(np.sqrt(2.0 / (area * c)))                     # relative noise of that energy
        texture = np.square(np.maximum(energy / base - np.float32(1.0), np.float32(0.0)) / spread)
        weight = np.exp(-np.maximum(ghost, texture) / np.float32(self.threshold)) * have
        g = np.minimum(weight * n / (n + np.float32(1.0)),
                       np.float32(self.max_frames / (self.max_frames + 1.0))).astype(np.float32, copy=False)
        var_new = np.square(np.float32(1.0) - g) + np.square(g) * inv_n   # in units of one frame's
        self.count = (np.float32(1.0) / np.maximum(var_new, np.float32(1e-6))).astype(np.float32, copy=False)
        g_full = cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR)
        for region in motion.uncovered_regions(h, w, shift):   # no past there: the frame alone
            g_full[region] = 0.0
        self.average = cv2.blendLinear(past, frame, g_full, np.float32(1.0) - g_full).reshape(frame.shape)
        return self.average

    def _start(self, frame: np.ndarray, hw: Tuple[int, int]) -> np.ndarray:
        self.average = frame.copy()
        self.count = np.ones((hw[1], hw[0]), np.float32)
        return self.average


class AveragingDenoiser:
    """A stream denoiser with no temporal weights: each frame is blended into a motion-gated
    average of the frames before it (FrameAverage), and a still model denoises that average.

    model: a still model's name, folder or .tflite (default: bfcnn.zoo.DEFAULT_MODEL); the other
    arguments as for Denoiser / VideoDenoiser (strength mixes with the noisy frame: y + s * (f - y)).
    motion: estimate global motion (default); detect_cuts: start over on a cut (default).
    Same frames in and out as Denoiser; call it on each frame in order; reset() starts over, as
    does a change of frame shape or dtype. Calls are serialized by a lock."""

    def __init__(self, model: Optional[str] = None, num_threads: Optional[int] = None,
                 quantization: Optional[str] = None, strength: float = 1.0, motion: bool = True,
                 detect_cuts: bool = True, backend: str = "litert", tile: Optional[int] = None):
        import threading
        from bfcnn.runtime.denoiser import Denoiser, check_strength
        from bfcnn.runtime.video import VideoStats
        from bfcnn.runtime.motion import check_flags
        check_flags(motion, detect_cuts)
        self.still = Denoiser(model, num_threads=num_threads, quantization=quantization, backend=backend, tile=tile)
        self.card = self.still.card
        self.label = f"frame averaging + {self.card.name}"   # what a stream's statistics call it
        self.quantization, self.num_threads, self.backend = self.still.quantization, self.still.num_threads, backend
        self.strength = check_strength(strength)
        self.motion, self.detect_cuts = motion, detect_cuts
        self.stats = VideoStats()
        self._average = FrameAverage()
        self._thumbs: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self._carry = (0.0, 0.0)   # the average's sub-pixel lag behind the frame (dy, dx)
        self._key: Tuple = ()
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Start a new stream: the next frame is denoised alone."""
        with self._lock:
            self._average.reset()
            self._thumbs, self._key, self._carry = None, (), (0.0, 0.0)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise the next frame of the stream; returns the same shape and dtype."""
        from bfcnn.runtime import motion as motion_
        from bfcnn.runtime.denoiser import finish_output, validate_frame
        image, squeeze, dtype = validate_frame(image)
        with self._lock:
            scale = np.float32(1.0 / 255.0) if dtype == np.uint8 else np.float32(1.0)
            frame = np.multiply(image, scale, dtype=np.float32)
            key = (image.shape, dtype)
            h, w = frame.shape[:2]
            # luma at 1/2 and 1/4 from one area-reduced copy (area means compose: the 1/4 is
            # motion.thumbnail's, without a second pass over the full frame)
            small = cv2.resize(frame, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
            fine = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if frame.shape[2] == 3 else small.reshape(small.shape[:2])
            thumb = cv2.resize(fine, (max(1, w // motion_.THUMB), max(1, h // motion_.THUMB)),
                               interpolation=cv2.INTER_AREA)
            self.stats.frames += 1
            shift = (0, 0)
            if self._thumbs is None or key != self._key:
                self._average.reset()
                self._carry = (0.0, 0.0)
                self.stats.restarts += 1
            else:
                est = motion_.estimate(self._thumbs[0], thumb, self._thumbs[1], fine)
                # the average moves by whole pixels; what rounding leaves is carried to the next
                # frame, so a pan of 0.3 px / frame moves it a pixel every third frame instead
                # of never (each frame's own shift rounds to 0)
                want = (est.subpixel[0] + self._carry[0], est.subpixel[1] + self._carry[1])
                shift = (int(np.rint(want[0])), int(np.rint(want[1])))
                shift = _steadier(shift, self._average.average, frame) if self.motion else (0, 0)
                self._carry = (want[0] - shift[0], want[1] - shift[1]) if shift != (0, 0) or \
                    max(abs(v) for v in want) < 1.0 else (0.0, 0.0)
                if self.detect_cuts and est.cut:
                    self._average.reset()
                    self._carry = (0.0, 0.0)
                    shift = (0, 0)
                    self.stats.cuts += 1
                    self.stats.restarts += 1
            self.stats.last_shift = shift
            average = self._average.update(frame, shift, small)
            self._thumbs, self._key = (thumb, fine), key
            out = self.still.raw(average)   # the average is a checked float frame in [0, 1]
            return finish_output(out, image, scale, self.strength, dtype, squeeze)


def _steadier(shift: Tuple[int, int], average: Optional[np.ndarray], frame: np.ndarray) -> Tuple[int, int]:
    """The estimated shift, or (0, 0) when that fits the frame better: a small estimated shift
    can be an object's motion pulling the correlation peak (seen: a still background read as
    1 px off on every other frame, and averaged misaligned). Compared on every 4th pixel."""
    if shift == (0, 0) or average is None or average.shape != frame.shape or max(abs(v) for v in shift) > 2:
        return shift
    f = frame[::4, ::4]
    # every 4th pixel of the aligned average, read in place (motion.align's convention:
    # aligned[y, x] = average[y + dy, x + dx]) instead of aligning the whole frame to drop 15/16
    ys, xs = np.arange(0, frame.shape[0], 4) + shift[0], np.arange(0, frame.shape[1], 4) + shift[1]
    vy, vx = (ys >= 0) & (ys < frame.shape[0]), (xs >= 0) & (xs < frame.shape[1])
    moved = average[np.ix_(ys[vy], xs[vx])]
    ok = np.abs(moved).sum(axis=2) > 0
    miss = np.abs(moved - f[np.ix_(vy, vx)]).sum(axis=2)[ok]
    miss_moved = float(np.median(miss)) if miss.size else np.inf
    miss_still = float(np.median(np.abs(average[::4, ::4] - f).sum(axis=2)))
    return (0, 0) if miss_still <= miss_moved else shift
