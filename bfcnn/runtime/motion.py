"""Global motion between stream frames, and a past frame aligned to the new one.

Frame averaging (bfcnn.runtime.averaging) aligns its average of the noisy frames before to
each new frame. The whole-pixel part of the shift is estimated by phase correlation on a small
luma thumbnail (1/4 of each side: noise averages out over 16 pixels, and a 640x480 frame costs
well under a millisecond), refined to full-resolution pixels; `residual_shift` then measures
the sub-pixel rest against the average itself, which is resampled by it: the blur of one
bicubic step costs less than the misalignment. What no translation explains (rotation, zoom,
objects moving on their own) the averaging gate sees as a mismatch and keeps out of the average.
A cut (no clear correlation peak and a large difference, or a large difference after
alignment) starts the average over.

Conventions: a shift is (dy, dx) in pixels (whole pixels for `align`): aligned[y, x] =
prev[y + dy, x + dx] where that pixel exists, else 0 (an uncovered border holds no past, as a
first frame).
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional, Tuple

import cv2
import numpy as np

THUMB = 4                 # thumbnail: 1/THUMB of each side
RELIABLE_RESPONSE = 0.3   # phase-correlation peak below this: no trustworthy shift (flat scene, cut)
CUT_DIFFERENCE = 0.1      # mean |aligned past - frame| on the thumbnail, [0, 1] units: a cut
CUT_DIFFERENCE_UNALIGNED = 0.05   # the same, at 1/(2*THUMB) and shift 0, when no shift is reliable
CUT_REFERENCE_LUMA = 0.35  # both thresholds hold at this mean luma and scale down with darker frames
MIN_THUMB_SIDE = 16       # below this the estimate is meaningless: shift (0, 0)
REFINE_WINDOW = (128, 192)   # the refinement's window at 1/2 resolution (rows, columns)
REFINE_RESPONSE = 0.1        # a refinement peak below this keeps the coarse shift


def check_flags(motion: bool, detect_cuts: bool) -> None:
    """The stream denoisers' `motion` and `detect_cuts` switches: True or False, nothing else."""
    for name, flag in (("motion", motion), ("detect_cuts", detect_cuts)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False, got {flag!r}")


class Estimate(NamedTuple):
    """subpixel: the shift (dy, dx) in full-resolution pixels, before rounding; `shift` is it
    rounded to whole pixels; response: the phase-correlation peak (same scene, noise up to sigma
    75: >= 0.85 on Kodak24; different scenes: <= 0.21); difference: mean |aligned past - frame|
    on the thumbnail; cut: the past shows another scene."""
    subpixel: Tuple[float, float]
    response: float
    difference: float
    cut: bool

    @property
    def shift(self) -> Tuple[int, int]:
        return int(np.rint(self.subpixel[0])), int(np.rint(self.subpixel[1]))


def thumbnail(image: np.ndarray) -> np.ndarray:
    """float32 [h/THUMB, w/THUMB] luma of an [H, W, C] float32 [0, 1] frame (C = 1 or 3, BGR)."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // THUMB), max(1, h // THUMB)), interpolation=cv2.INTER_AREA)
    if small.ndim == 3 and small.shape[2] == 3:
        small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return np.ascontiguousarray(small.reshape(small.shape[0], small.shape[1]), np.float32)


def estimate(prev_thumb: np.ndarray, thumb: np.ndarray, prev_fine: Optional[np.ndarray] = None,
             fine: Optional[np.ndarray] = None) -> Estimate:
    """Global motion from the previous output to the new frame, from their thumbnails
    (`thumbnail`, same shape). A shift is trusted when the correlation peak is clear; otherwise
    (a flat or featureless scene, whose noise gives random peaks, or a cut) the shift is (0, 0),
    and a cut is called only if the frames also differ on a doubly reduced thumbnail, where noise
    up to sigma 75 stays under CUT_DIFFERENCE_UNALIGNED. With `prev_fine` / `fine` (the two
    frames' luma at twice the thumbnail's resolution) a trusted shift is refined there (`refine_subpixel`).

    The cut thresholds scale with the frames' brightness below CUT_REFERENCE_LUMA: a video k
    times darker (noise and all, as a camera's exposure makes it) gets the same decisions, so a
    cut in a dark scene is found (at luma 0.25x, fixed thresholds missed every one)."""
    h, w = thumb.shape
    scale = min(1.0, max(float(prev_thumb.mean()), float(thumb.mean()), 1e-3) / CUT_REFERENCE_LUMA)
    if min(h, w) < MIN_THUMB_SIDE:
        return Estimate((0.0, 0.0), 0.0, float(np.mean(np.abs(prev_thumb - thumb))), False)
    # OpenCV pads to its next fast DFT size; an odd padded size biases the peak by half a
    # thumbnail pixel (2 full-resolution pixels, measured): correlate a central part of a fast,
    # even size instead
    ch, cw = _fast_even(h), _fast_even(w)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    window = cv2.createHanningWindow((cw, ch), cv2.CV_32F)
    (sx, sy), response = _phase_correlate(thumb[y0:y0 + ch, x0:x0 + cw], prev_thumb[y0:y0 + ch, x0:x0 + cw], window)
    if response < RELIABLE_RESPONSE:
        half = (max(1, w // 2), max(1, h // 2))
        coarse = float(np.mean(np.abs(cv2.resize(prev_thumb, half, interpolation=cv2.INTER_AREA)
                                      - cv2.resize(thumb, half, interpolation=cv2.INTER_AREA))))
        return Estimate((0.0, 0.0), float(response), coarse, coarse > CUT_DIFFERENCE_UNALIGNED * scale)
    ty, tx = int(np.rint(sy)), int(np.rint(sx))
    aligned = align(prev_thumb[:, :, None], (ty, tx), fill=thumb[:, :, None])[:, :, 0]
    difference = float(np.mean(np.abs(aligned - thumb)))
    cut = difference > CUT_DIFFERENCE * scale
    if prev_fine is not None and fine is not None and not cut:
        exact = refine_subpixel(prev_fine, fine, (sy * THUMB, sx * THUMB), THUMB // 2)
    else:
        exact = (float(sy * THUMB), float(sx * THUMB))
    return Estimate(exact, float(response), difference, cut)


def refine_subpixel(prev_fine: np.ndarray, fine: np.ndarray, shift, factor: int,
                    size: Tuple[int, int] = REFINE_WINDOW) -> Tuple[float, float]:
    """A coarse shift (dy, dx, full-resolution pixels) refined by phase correlation of a central
    window of two luma images at 1/`factor` resolution, in full-resolution pixels (floats). The
    coarse estimate alone (1/4 resolution) was off by a pixel for half the shifts of 1-3 pixels
    on Kodak24, which at full resolution misaligns every edge of a slow pan; refined at 1/2
    resolution on a 128x192 window: 0.02-0.13 px mean error at sigma 0-50, never over 1.
    Returns the coarse shift when the window leaves the image or shows no clear peak."""
    h, w = fine.shape
    ch, cw = min(size[0], _fast_even(h - 8)), min(size[1], _fast_even(w - 8))
    iy, ix = int(np.rint(shift[0] / factor)), int(np.rint(shift[1] / factor))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    coarse = (float(shift[0]), float(shift[1]))
    if ch < MIN_THUMB_SIDE or cw < MIN_THUMB_SIDE or not (0 <= y0 + iy and y0 + iy + ch <= h
                                                           and 0 <= x0 + ix and x0 + ix + cw <= w):
        return coarse
    window = cv2.createHanningWindow((cw, ch), cv2.CV_32F)
    (sx, sy), response = _phase_correlate(fine[y0:y0 + ch, x0:x0 + cw],
                                          prev_fine[y0 + iy:y0 + iy + ch, x0 + ix:x0 + ix + cw], window)
    if response < REFINE_RESPONSE or max(abs(sy), abs(sx)) > 2:
        return coarse
    return float((iy + sy) * factor), float((ix + sx) * factor)


def residual_shift(reference: np.ndarray, frame: np.ndarray, start: Tuple[float, float],
                   iterations: int = 2) -> Optional[Tuple[float, float]]:
    """The shift (dy, dx) that best moves `reference` onto `frame` (two float32 [h, w] luma
    planes of one resolution), refined from `start` (pixels of these planes):
    moved[y, x] = reference[y + dy, x + dx] ~ frame[y, x]. Inverse-compositional Lucas-Kanade:
    the reference, moved by `start` and smoothed like the frame (Gaussian, 1 px), is linearized
    once; each step moves the frame back by the shift found so far (bilinear) and solves the
    2x2 least squares of the reference's gradient against the residual. Pixels whose residual
    exceeds 3x its robust spread at the first step (a moving object, an occlusion) are left
    out, so the background decides. None when the gradients cannot fix a shift (a flat or
    one-directional scene) or a step runs off by more than a pixel: the caller keeps its own
    estimate. Depends on ratios only: scaling both planes leaves the shift."""
    h, w = frame.shape
    margin = int(np.ceil(max(abs(start[0]), abs(start[1])))) + 4
    if h <= 2 * margin + 8 or w <= 2 * margin + 8:
        return None
    inner = (slice(margin, h - margin, 2), slice(margin, w - margin, 2))
    if start == (0.0, 0.0):
        moved = reference
    else:
        m = np.float32([[1.0, 0.0, start[1]], [0.0, 1.0, start[0]]])
        moved = cv2.warpAffine(reference, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)
    ref = cv2.GaussianBlur(moved, (5, 5), 1.0)
    smooth = cv2.GaussianBlur(frame, (5, 5), 1.0)
    gy = cv2.Sobel(ref, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)[inner]
    gx = cv2.Sobel(ref, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)[inner]
    base = ref[inner]
    r = smooth[inner] - base
    keep = (np.abs(r) <= 3.0 * float(np.median(np.abs(r))) / 0.6745).astype(np.float32)
    gyk, gxk = gy * keep, gx * keep
    a = np.array([[np.sum(gyk * gy), np.sum(gyk * gx)], [np.sum(gyk * gx), np.sum(gxk * gx)]], np.float64)
    eig = np.linalg.eigvalsh(a)
    if eig[1] <= 0.0 or eig[0] <= 1e-3 * eig[1]:
        return None
    inv = np.linalg.inv(a)
    dy = dx = 0.0
    for i in range(iterations):
        if i:   # the frame moved back by the shift so far: back[y, x] = smooth[y - dy, x - dx]
            back = cv2.warpAffine(smooth, np.float32([[1.0, 0.0, -dx], [0.0, 1.0, -dy]]), (w, h),
                                  flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
            r = back[inner] - base
        step = inv @ np.array([np.sum(gyk * r), np.sum(gxk * r)], np.float64)
        if np.max(np.abs(step)) > 1.0:
            return None
        dy, dx = dy + float(step[0]), dx + float(step[1])
        if np.max(np.abs(step)) < 0.05:   # a twentieth of a pixel here: not worth another step
            break
    return float(start[0]) + dy, float(start[1]) + dx


def _phase_correlate(a: np.ndarray, b: np.ndarray, window: np.ndarray):
    """cv2.phaseCorrelate on copies divided by one shared scale. Copies: with a window, OpenCV 5.0
    multiplies its inputs by the window in place (seen: the kept thumbnail of the previous frame
    came back tapered). The scale: OpenCV's normalization is not exactly scale-free (the same
    pair at 0.03x brightness gave another peak), and a stream denoiser must move its past the
    same way for a darker copy of the same video, or it is not bias-free."""
    scale = np.float32(1.0 / max(float(np.mean(np.abs(a))), float(np.mean(np.abs(b))), 1e-30))
    return cv2.phaseCorrelate(np.multiply(a, scale, dtype=np.float32), np.multiply(b, scale, dtype=np.float32), window)


def _fast_even(n: int) -> int:
    """The largest even m <= n that OpenCV's DFT takes without padding (2^a 3^b 5^c)."""
    m = n - n % 2
    while m > 2 and cv2.getOptimalDFTSize(m) != m:
        m -= 2
    return m


def uncovered_regions(h: int, w: int, shift: Tuple[int, int]) -> List[Tuple[slice, ...]]:
    """The index regions of an [h, w, ...] array that `align` by `shift` leaves without a past
    (the rows and columns the shift uncovers; shifts of at least the size: everything)."""
    dy, dx = int(shift[0]), int(shift[1])
    if abs(dy) >= h or abs(dx) >= w:
        return [(slice(None),)]
    regions = []
    if dy:
        regions.append((slice(h - dy, h) if dy > 0 else slice(0, -dy),))
    if dx:
        regions.append((slice(None), slice(w - dx, w) if dx > 0 else slice(0, -dx)))
    return regions


def covered_region(h: int, w: int, shift: Tuple[int, int]) -> Tuple[slice, slice]:
    """The rows and columns of an [h, w, ...] array that `align` by `shift` fills from the past:
    the complement of uncovered_regions (empty for shifts of at least the size)."""
    dy, dx = int(shift[0]), int(shift[1])
    ys = slice(0, max(0, h - dy)) if dy >= 0 else slice(min(h, -dy), h)
    xs = slice(0, max(0, w - dx)) if dx >= 0 else slice(min(w, -dx), w)
    return ys, xs


def align(prev: np.ndarray, shift: Tuple[int, int], fill: Optional[np.ndarray] = None,
          scale: float = 1.0, out: Optional[np.ndarray] = None) -> np.ndarray:
    """prev ([H, W, C]) shifted by (dy, dx): out[y, x] = prev[y + dy, x + dx] where that pixel
    exists; uncovered pixels are 0 (no past), or `fill` * `scale` when `fill` (same shape) is
    given. prev's dtype; written
    into `out` when given (not prev or fill)."""
    if fill is not None and prev.shape != fill.shape:
        raise ValueError(f"align: the past {prev.shape} and the fill {fill.shape} differ in shape")
    dy, dx = int(shift[0]), int(shift[1])
    h, w = prev.shape[:2]
    if out is None:
        out = np.empty_like(prev)

    for region in uncovered_regions(h, w, (dy, dx)):
        out[region] = 0 if fill is None else (fill[region] * scale if scale != 1.0 else fill[region])
    if abs(dy) >= h or abs(dx) >= w:
        return out
    ys, yd = (slice(dy, h), slice(0, h - dy)) if dy >= 0 else (slice(0, h + dy), slice(-dy, h))
    xs, xd = (slice(dx, w), slice(0, w - dx)) if dx >= 0 else (slice(0, w + dx), slice(-dx, w))
    out[yd, xd] = prev[ys, xs]
    return out
