"""The frame contract every denoiser shares (Denoiser, AveragingDenoiser).

Frames: HxW, HxWx1 or HxWx3 (BGR, as OpenCV and picamera2's RGB888 hand them over), uint8 in
[0, 255] or float32 in [0, 1], any size from 1x1, any strides; the output has the input's
shape and dtype. The options a user sets on any denoiser (threads, strength) are checked
here, once, with errors that name the valid values.
"""
from __future__ import annotations

import os
import warnings

import cv2
import numpy as np

STRENGTH_RANGE = (0.0, 1.5)
MAX_SIDE = 1 << 20           # the pyramid op's limit on a frame side
MAX_THREADS = 64             # LiteRT threads per interpreter (each Denoiser may hold several)
FLOAT_SLACK = 1.0 / 255.0    # float32 frames may stray this far outside [0, 1] (rounding)


def unit_scale(dtype) -> np.float32:
    """What a frame of this dtype is multiplied by to hold [0, 1]: 1/255 for uint8, 1 for float32."""
    return np.float32(1.0 / 255.0) if dtype == np.uint8 else np.float32(1.0)


def in_units(frame: np.ndarray) -> np.ndarray:
    """A uint8 (0-255) or float32 (0-1) frame as float32 [H, W, C] in [0, 1] (a new array; HxW
    frames get a channel axis)."""
    x = frame.astype(np.float32) * unit_scale(frame.dtype)
    return x[:, :, None] if x.ndim == 2 else x


def luma(image: np.ndarray) -> np.ndarray:
    """float32 [h, w] luma of an [h, w, C] float32 image (C = 1 or 3, BGR): OpenCV's BGR-to-gray
    weights, or the one plane."""
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return np.ascontiguousarray(image[:, :, 0])


def check_strength(strength: float) -> float:
    """`strength` as a float in STRENGTH_RANGE; ValueError naming the range otherwise."""
    lo, hi = STRENGTH_RANGE
    if isinstance(strength, bool) or not isinstance(strength, (int, float, np.floating, np.integer)) \
            or not lo <= float(strength) <= hi:
        raise ValueError(f"strength must be a number in [{lo}, {hi}] (0 = the noisy input, 1 = the "
                         f"model's output, above 1 smooths more), got {strength!r}")
    return float(strength)


class StrengthSetting:
    """A denoiser's `strength` attribute, checked by check_strength on every assignment, not
    only in the constructor (a NaN set afterwards gave white frames)."""

    def __set_name__(self, owner, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj, objtype=None):
        return self if obj is None else getattr(obj, self.slot)

    def __set__(self, obj, value) -> None:
        setattr(obj, self.slot, check_strength(value))


def validate_frame(image) -> tuple:
    """(frame as [H, W, C], squeeze: it was HxW, dtype) for a valid frame; TypeError / ValueError
    naming the fix otherwise (see the module docstring for what is valid)."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"frame must be a numpy array, got {type(image).__name__}")
    if image.dtype not in (np.uint8, np.float32):
        raise ValueError(f"frame dtype must be uint8 (0-255) or float32 (0-1), got {image.dtype}; "
                         f"convert with frame.astype(np.uint8) or (frame / 255).astype(np.float32)")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
        raise ValueError(f"frame must be HxW, HxWx1 or HxWx3 (BGR), got shape {image.shape}")
    if image.size == 0:
        raise ValueError(f"frame is empty (shape {image.shape})")
    if max(image.shape[:2]) > MAX_SIDE:
        raise ValueError(f"frame side {max(image.shape[:2])} exceeds {MAX_SIDE}; split the frame or "
                         f"resize it (cv2.resize)")
    if image.dtype == np.float32:
        lo, hi = float(image.min()), float(image.max())   # NaN and Inf propagate into both
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError("frame contains NaN or Inf; clean it (np.nan_to_num) before denoising")
        if lo < -FLOAT_SLACK or hi > 1.0 + FLOAT_SLACK:
            hint = ("it looks like 0-255 data: pass frame.astype(np.uint8), or frame / 255"
                    if hi <= 255.0 + FLOAT_SLACK and lo >= -FLOAT_SLACK else "rescale it to [0, 1]")
            raise ValueError(f"float32 frames hold values in [0, 1], got [{lo:g}, {hi:g}]; {hint}")
    squeeze = image.ndim == 2
    if squeeze:
        image = image[:, :, None]
    return image, squeeze, image.dtype


def finish_output(out: np.ndarray, image: np.ndarray, scale: np.float32, strength: float, dtype,
                  squeeze: bool) -> np.ndarray:
    """The model's output (float32 [H, W, C] in ~[0, 1], modified in place) as the caller's frame:
    mixed with the input by `strength`, in the input's dtype and layout."""
    if strength != 1.0:  # y + s * (f(y) - y), in place
        noisy = image.astype(np.float32) * scale
        out -= noisy
        out *= np.float32(strength)
        out += noisy
    if dtype == np.uint8:
        # one saturating, round-to-nearest-even SIMD pass (what np.clip(np.rint(x * 255)) does
        # in three passes; byte-identical)
        result = cv2.addWeighted(out, 255.0, out, 0.0, 0.0, dtype=cv2.CV_8U).reshape(out.shape)
    else:
        result = np.clip(out, 0.0, 1.0).astype(np.float32)
    return result[:, :, 0] if squeeze else result


def warn_gray_frame(name: str) -> None:
    warnings.warn(f"{name} is a colour model: on gray frames it removes little noise (~1 dB at "
                  f"sigma 25); use edge_gray_realtime or edge_gray_quality for a gray camera", RuntimeWarning, stacklevel=4)


def check_threads(num_threads) -> None:
    """ValueError naming the range unless `num_threads` is None (all cores) or an int in 1..MAX_THREADS."""
    if num_threads is not None and (isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer))
                                    or not 1 <= num_threads <= MAX_THREADS):
        raise ValueError(f"num_threads must be an integer in 1..{MAX_THREADS} or None (all "
                         f"{os.cpu_count()} cores), got {num_threads!r}")
