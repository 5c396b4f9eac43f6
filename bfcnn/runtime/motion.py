"""Global motion between stream frames, and the previous output aligned to the new frame.

A temporal model (VideoDenoiser) gets the previous denoised frame aligned to the current noisy
one. The alignment is global and integer: a translation estimated by phase correlation on a
small luma thumbnail (1/4 of each side: noise averages out over 16 pixels, and a 640x480 frame
costs well under a millisecond), refined to full-resolution pixels. Integer, because a sub-pixel
warp blurs, and a recurrent model would blur the past again every frame; what the shift leaves
unexplained (sub-pixel rest, rotation, zoom, objects moving on their own) the model sees in the
temporal difference and decides per pixel how far to trust the past.

Conventions: a shift is (dy, dx), integers: aligned[y, x] = prev[y + dy, x + dx] where that
pixel exists, else current[y, x] (an uncovered border holds no past: the model then sees a
temporal difference of 0, as on a first frame). The trainer synthesizes sequences with the same
convention (bfcnn/trainer/data/sequences.py).
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import cv2
import numpy as np

THUMB = 4                 # thumbnail: 1/THUMB of each side
RELIABLE_RESPONSE = 0.3   # phase-correlation peak below this: no trustworthy shift (flat scene, cut)
CUT_DIFFERENCE = 0.1      # mean |aligned past - frame| on the thumbnail, [0, 1] units: a cut
CUT_DIFFERENCE_UNALIGNED = 0.05   # the same, at 1/(2*THUMB) and shift 0, when no shift is reliable
MIN_THUMB_SIDE = 16       # below this the estimate is meaningless: shift (0, 0)


class Estimate(NamedTuple):
    """shift: (dy, dx) in full-resolution pixels; response: the phase-correlation peak (same
    scene, noise up to sigma 75: >= 0.85 on Kodak24; different scenes: <= 0.21); difference:
    mean |aligned past - frame| on the thumbnail; cut: the past shows another scene."""
    shift: Tuple[int, int]
    response: float
    difference: float
    cut: bool


def thumbnail(image: np.ndarray) -> np.ndarray:
    """float32 [h/THUMB, w/THUMB] luma of an [H, W, C] float32 [0, 1] frame (C = 1 or 3, BGR)."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // THUMB), max(1, h // THUMB)), interpolation=cv2.INTER_AREA)
    if small.ndim == 3 and small.shape[2] == 3:
        small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return np.ascontiguousarray(small.reshape(small.shape[0], small.shape[1]), np.float32)


def estimate(prev_thumb: np.ndarray, thumb: np.ndarray) -> Estimate:
    """Global motion from the previous output to the new frame, from their thumbnails
    (`thumbnail`, same shape). A shift is trusted when the correlation peak is clear; otherwise
    (a flat or featureless scene, whose noise gives random peaks, or a cut) the shift is (0, 0),
    and a cut is called only if the frames also differ on a doubly reduced thumbnail, where noise
    up to sigma 75 stays under CUT_DIFFERENCE_UNALIGNED."""
    h, w = thumb.shape
    if min(h, w) < MIN_THUMB_SIDE:
        return Estimate((0, 0), 0.0, float(np.mean(np.abs(prev_thumb - thumb))), False)
    # OpenCV pads to its next fast DFT size; an odd padded size biases the peak by half a
    # thumbnail pixel (2 full-resolution pixels, measured): correlate a central part of a fast,
    # even size instead
    ch, cw = _fast_even(h), _fast_even(w)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    window = cv2.createHanningWindow((cw, ch), cv2.CV_32F)
    (sx, sy), response = cv2.phaseCorrelate(np.ascontiguousarray(thumb[y0:y0 + ch, x0:x0 + cw]),
                                            np.ascontiguousarray(prev_thumb[y0:y0 + ch, x0:x0 + cw]), window)
    if response < RELIABLE_RESPONSE:
        half = (max(1, w // 2), max(1, h // 2))
        coarse = float(np.mean(np.abs(cv2.resize(prev_thumb, half, interpolation=cv2.INTER_AREA)
                                      - cv2.resize(thumb, half, interpolation=cv2.INTER_AREA))))
        return Estimate((0, 0), float(response), coarse, coarse > CUT_DIFFERENCE_UNALIGNED)
    ty, tx = int(np.rint(sy)), int(np.rint(sx))
    aligned = align(prev_thumb[:, :, None], (ty, tx), thumb[:, :, None])[:, :, 0]
    difference = float(np.mean(np.abs(aligned - thumb)))
    shift = (int(np.rint(sy * THUMB)), int(np.rint(sx * THUMB)))
    return Estimate(shift, float(response), difference, difference > CUT_DIFFERENCE)


def _fast_even(n: int) -> int:
    """The largest even m <= n that OpenCV's DFT takes without padding (2^a 3^b 5^c)."""
    m = n - n % 2
    while m > 2 and cv2.getOptimalDFTSize(m) != m:
        m -= 2
    return m


def align(prev: np.ndarray, shift: Tuple[int, int], current: np.ndarray,
          out: Optional[np.ndarray] = None, scale: float = 1.0) -> np.ndarray:
    """prev shifted by (dy, dx) onto current's grid: [H, W, C] arrays of one shape; uncovered
    pixels come from `current` * `scale` (a uint8 frame with scale 1/255 is converted only
    there). The result has prev's dtype; written into `out` when given (not prev or current)."""
    if prev.shape != current.shape:
        raise ValueError(f"align: the past {prev.shape} and the frame {current.shape} differ in shape")
    dy, dx = int(shift[0]), int(shift[1])
    h, w = current.shape[:2]
    if out is None:
        out = np.empty_like(prev)
    if abs(dy) >= h or abs(dx) >= w:
        out[...] = current * scale if scale != 1.0 else current
        return out
    ys, yd = (slice(dy, h), slice(0, h - dy)) if dy >= 0 else (slice(0, h + dy), slice(-dy, h))
    xs, xd = (slice(dx, w), slice(0, w - dx)) if dx >= 0 else (slice(0, w + dx), slice(-dx, w))
    out[yd, xd] = prev[ys, xs]
    if dy:
        rows = slice(h - dy, h) if dy > 0 else slice(0, -dy)
        out[rows] = current[rows] * scale if scale != 1.0 else current[rows]
    if dx:
        cols = slice(w - dx, w) if dx > 0 else slice(0, -dx)
        out[:, cols] = current[:, cols] * scale if scale != 1.0 else current[:, cols]
    return out
