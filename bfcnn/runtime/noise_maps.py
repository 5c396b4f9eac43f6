"""Noise maps: what a noise-conditioned model (card `noise_input`) is told about the noise.

Such a model takes, beside each pyramid level g_k ("level_k"), a map s_k ("noise_k") of the
same shape: the std of the noise that level holds, per pixel and channel, in the frame's units.
One definition serves training and the runtime:

    s_k = s_0 * WHITE[k] * c_k

- s_0: the noise std of one pixel (the profile's std at the pixel's intensity, per channel);
- WHITE[k]: the std white noise keeps at pyramid level k (the 5-tap binomial filter, applied k
  times: 1, 0.273, 0.123, 0.060, ...);
- c_k: how much more than white noise keeps after k area reductions by 2 (the profile's
  `correlation`; 1 for white noise, about 2 on a demosaicked JPEG; beyond the measured
  reductions the last measured value holds).

Training measures s_0 and c_k on each crop's own residual (noisy - clean) exactly as
`noise.from_pair` does on a photo pair; the runtime reads them from a NoiseProfile (calibrated,
measured by the stream, or estimated from the frame itself). Every map is a std: it scales with
the frame, so f(a*y, a*s) = a*f(y, s) keeps the model bias-free.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import cv2
import numpy as np

from bfcnn.runtime.frames import luma

_TAPS = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
MAX_LEVELS = 8
LUT_SIZE = 256      # luma steps of the std table (cv2.LUT takes 8-bit indexes)


def _white() -> tuple:
    """WHITE[k] for k < MAX_LEVELS: the 2-D std gain of level k's equivalent filter on white noise
    (separable: the square of the 1-D filter's L2 norm)."""
    out, h = [1.0], np.array([1.0])
    for k in range(1, MAX_LEVELS):
        up = np.zeros(4 * 2 ** (k - 1) + 1)
        up[:: 2 ** (k - 1)] = _TAPS          # the k-th blur acts on a grid 2^(k-1) apart
        h = np.convolve(h, up)
        out.append(float(np.sum(h * h)))
    return tuple(out)


WHITE = _white()


def level_factors(correlation: Sequence[float], levels: int) -> np.ndarray:
    """float32 [levels]: s_k / s_0 for each level, WHITE[k] * c_k (see the module docstring)."""
    if not 1 <= levels <= MAX_LEVELS:
        raise ValueError(f"levels must be in 1..{MAX_LEVELS}, got {levels}")
    corr = [1.0] + [float(c) for c in correlation]
    return np.array([WHITE[k] * corr[min(k, len(corr) - 1)] for k in range(levels)], np.float32)


def level_maps(profile, levels: Sequence[np.ndarray], inv_frames: Optional[np.ndarray] = None,
               out: Optional[List[np.ndarray]] = None) -> List[np.ndarray]:
    """The noise maps of a frame's pyramid.

    profile: a noise.NoiseProfile in the levels' units (scale it with `profile.scaled(a)` when
        the frame was scaled by a) with 1 channel or as many as the levels;
    levels: float32 [h_k, w_k, C] (level 0 first), the pyramid the model is given;
    inv_frames: optional float32 [H, W] (level 0's size): 1/n where the pixel is a mean of n
        frames with independent noise (frame averaging), which divides the variance by n;
    out: optional float32 arrays [h_k, w_k, C] to write into (the interpreter's inputs).
    Returns float32 [h_k, w_k, C] per level, >= 0: s_k at each pixel from its own luma at that
    level (pointwise, so a tile's maps equal the whole frame's where its output is kept)."""
    c = levels[0].shape[2]
    if profile.channels not in (1, c):
        raise ValueError(f"a {profile.channels}-channel noise profile cannot describe {c}-channel "
                         f"frames; measure the profile on frames like these")
    factors = level_factors(profile.correlation, len(levels))
    std = np.asarray(profile.std, np.float64)
    std = np.repeat(std, c, axis=0) if std.shape[0] != c else std
    # s_0 at LUT_SIZE luma steps from 0 to the profile's top intensity (constant beyond it, as
    # np.interp): a table lookup per pixel instead of an interpolation (21 -> 2 ms for the three
    # levels of a 640x480 colour frame). The steps scale with the profile, so a frame and its
    # profile scaled by a give the same indexes: the maps stay exactly homogeneous.
    top = max(float(profile.intensity[-1]), 1e-12)
    grid = np.linspace(0.0, top, LUT_SIZE)
    table = np.stack([np.interp(grid, profile.intensity, row) for row in std], axis=-1)   # [LUT, C]
    maps = []
    for k, lvl in enumerate(levels):
        # rounds and saturates; |luma| (a resampled stream dips a little below 0) stays homogeneous
        index = cv2.convertScaleAbs(luma(lvl), alpha=(LUT_SIZE - 1) / top)
        lut = (table * factors[k]).astype(np.float32).reshape(LUT_SIZE, 1, c)
        m = cv2.LUT(cv2.merge([index] * c) if c > 1 else index, lut).reshape(lvl.shape)
        if inv_frames is not None:
            shrink = inv_frames if k == 0 else cv2.resize(inv_frames, (lvl.shape[1], lvl.shape[0]),
                                                          interpolation=cv2.INTER_AREA)
            m *= np.sqrt(shrink).reshape(lvl.shape[0], lvl.shape[1], 1)
        if out is not None:
            out[k][...] = m
            m = out[k]
        maps.append(m)
    return maps
