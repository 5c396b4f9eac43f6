"""Frame averaging: temporal noise reduction before a still model. Each frame is blended into
the motion-gated average of the frames before it (bfcnn.runtime.frame_average.FrameAverage:
aligned by the global shift, accumulated where the scene holds still, gated by the noise the
stream measures), and a still model denoises that average; its correction is kept to the
noise the average still holds (AveragingDenoiser._fit_to_noise): a blind model does not know
that an average of 16 frames is nearly clean, and took detail away there (on a still scene
with camera noise, the model on the mean of 16 frames was under the mean itself).

No weights are learned here: any still model works, and the constants were set on scenes made
from the training images (CBSD432, Gaussian and synthesized camera noise), not on the test sets.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np

from bfcnn.runtime import motion
from bfcnn.runtime.denoiser import Denoiser
from bfcnn.runtime.frame_average import FrameAverage
from bfcnn.runtime.frames import StrengthSetting, finish_output, luma, unit_scale, validate_frame
from bfcnn.runtime.noise import NoiseProfile

STILL = 0.15          # px / frame: an estimated motion under this is a still camera's noise
REGISTER_STILL = 4    # a still camera's average is registered on every 4th frame
FIT = 1.0             # the model's correction may hold FIT x the noise the average still holds
FIT_BLUR = 4.0        # px: the neighbourhood over which the correction's energy is measured


@dataclass
class VideoStats:
    """What a stream denoiser did so far: frames, restarts (first frame, size change, reset(),
    cut), cuts detected, and the last frame's global shift (dy, dx) in pixels."""
    frames: int = 0
    restarts: int = 0
    cuts: int = 0
    last_shift: Tuple[float, float] = (0, 0)


class AveragingDenoiser:
    """A stream denoiser with no temporal weights: each frame is blended into a motion-gated
    average of the frames before it (FrameAverage), and a still model denoises that average.

    model: a still model's name, folder or .tflite (default: bfcnn.zoo.DEFAULT_MODEL); the other
    arguments as for Denoiser (strength mixes with the noisy frame: y + s * (f - y)).
    still: an open Denoiser to denoise the average with, instead of opening `model` (then leave
    model, num_threads, quantization, backend and tile out: they are its own).
    motion: estimate global motion (default); detect_cuts: start over on a cut (default).
    noise_profile: the camera's saved profile (bfcnn.runtime.noise.load, from bfcnn-runtime
    --calibrate): the first frames are gated with it until the stream's own measurements take
    over; `noise` says what the stream measured.
    Same frames in and out as Denoiser; call it on each frame in order; reset() starts over, as
    does a change of frame shape or dtype. Calls are serialized by a lock."""

    strength = StrengthSetting()

    def __init__(self, model: Optional[str] = None, num_threads: Optional[int] = None,
                 quantization: Optional[str] = None, strength: float = 1.0, motion: bool = True,
                 detect_cuts: bool = True, backend: str = "litert", tile: Optional[int] = None,
                 noise_profile: Optional[NoiseProfile] = None, still: Optional[Denoiser] = None):
        from bfcnn.runtime.motion import check_flags
        check_flags(motion, detect_cuts)
        if still is not None:    # an open Denoiser (the CLI's --model): not loaded and checked twice
            if not isinstance(still, Denoiser) or any(v is not None for v in (model, num_threads, quantization, tile)) \
                    or backend != "litert":
                raise ValueError("still= takes an open Denoiser and replaces model, num_threads, quantization, "
                                 "backend and tile (they are its own); pass one or the other")
            self.still, self._owns_still = still, False
        else:
            self._owns_still = True
            self.still = Denoiser(model, num_threads=num_threads, quantization=quantization, backend=backend, tile=tile)
        self.card = self.still.card
        self.label = f"frame averaging + {self.card.name}"   # what a stream's statistics call it
        self.quantization, self.num_threads, self.backend = self.still.quantization, self.still.num_threads, self.still.backend
        self.strength = strength
        self.motion, self.detect_cuts = motion, detect_cuts
        self.stats = VideoStats()
        if noise_profile is not None and not isinstance(noise_profile, NoiseProfile):
            raise TypeError(f"noise_profile must be a NoiseProfile (bfcnn.runtime.noise.load(FILE)) or None, "
                            f"got {type(noise_profile).__name__}")
        self.noise_profile = noise_profile
        self._average = FrameAverage()
        self._new_stream()
        self._thumbs: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self._unregistered = 0     # frames since the average was last registered
        self._last_registered = (0.0, 0.0)   # the shift found then: a pan keeps registering
        self._key: Tuple = ()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the still model if this stream opened it (a Denoiser handed in as still= stays
        its owner's). Also `with AveragingDenoiser(...) as video:`."""
        if self._owns_still:
            self.still.close()

    def __enter__(self) -> "AveragingDenoiser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def reset(self) -> None:
        """Start a new stream: the next frame is denoised alone."""
        with self._lock:
            self._new_stream()
            self._thumbs, self._key = None, ()

    def _new_stream(self) -> None:
        """Start over and forget the noise too (reset, or another frame size): back to the
        given profile, if any."""
        self._restart()
        self._average.forget()
        if self.noise_profile is not None:
            self._average.noise.seed(self.noise_profile)

    @property
    def noise(self) -> Optional[NoiseProfile]:
        """The noise this stream measured (a NoiseProfile at full resolution: level per
        intensity and channel, correlation), or the given profile before it measured any; None
        before two frames of one scene were compared."""
        return self._average.noise.profile()

    def _restart(self) -> None:
        self._average.reset()
        self._unregistered, self._last_registered = 0, (0.0, 0.0)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise the next frame of the stream; returns the same shape and dtype."""
        image, squeeze, dtype = validate_frame(image)
        with self._lock:
            scale = unit_scale(dtype)
            frame = np.multiply(image, scale, dtype=np.float32)
            key = (image.shape, dtype)
            h, w = frame.shape[:2]
            # luma at 1/2 and 1/4 from one area-reduced copy (area means compose: the 1/4 is
            # motion.thumbnail's, without a second pass over the full frame)
            hw = (max(1, w // 2), max(1, h // 2))
            small = cv2.resize(frame, hw, interpolation=cv2.INTER_AREA).reshape(hw[1], hw[0], frame.shape[2])
            fine = luma(small)
            thumb = cv2.resize(fine, (max(1, w // motion.THUMB), max(1, h // motion.THUMB)),
                               interpolation=cv2.INTER_AREA)
            self.stats.frames += 1
            shift = (0.0, 0.0)
            if self._thumbs is None or key != self._key:
                self._new_stream()
                self.stats.restarts += 1
            else:
                est = motion.estimate(self._thumbs[0], thumb, self._thumbs[1], fine)
                if self.detect_cuts and est.cut:
                    self._restart()
                    self.stats.cuts += 1
                    self.stats.restarts += 1
                elif self.motion:
                    # whole pixels from the frame-to-frame estimate, then the sub-pixel rest
                    # measured against the average itself (a pan of 0.3 px / frame rounds to 0
                    # every frame; measured on pans over training images at sigma 25, resampling
                    # the rest gained 0.4-0.65 dB on sub-pixel pans and 0.5 on hand-held shake)
                    # A still camera (the estimate under STILL px) is registered every
                    # REGISTER_STILL'th frame only: a drift that slow moves the average by a
                    # fraction of a pixel in between, and registration is a sixth of the overhead
                    whole = _steadier(est.shift, self._average.average, frame)
                    self._unregistered += 1
                    moving = max(abs(v) for v in est.subpixel + self._last_registered) >= STILL
                    if whole != (0, 0) or moving or self._unregistered >= REGISTER_STILL:
                        shift = self._average.register(fine, whole)
                        self._unregistered, self._last_registered = 0, shift
                    else:
                        shift = (0.0, 0.0)
            self.stats.last_shift = shift
            average = self._average.update(frame, shift, small, fine)
            self._thumbs, self._key = (thumb, fine), key
            # float32 [H, W, C]; the bicubic resampling may overshoot [0, 1] a little at edges,
            # which the model takes as it is (no clip: clipping is not homogeneous)
            if self.card.noise_input:   # told the noise the average still holds, pixel by pixel
                out = self.still.raw(average, self.noise, self._inv_frames(h, w))
            else:
                out = self._fit_to_noise(average, self.still.raw(average))
            return finish_output(out, image, scale, self.strength, dtype, squeeze)

    def _inv_frames(self, h: int, w: int) -> Optional[np.ndarray]:
        """float32 [h, w]: 1 / the frames each pixel of the average holds (its noise variance
        over one frame's), from the half-resolution counts; None before there are counts."""
        count = self._average.count
        if count is None:
            return None
        inv = np.float32(1.0) / np.maximum(count, np.float32(1.0))
        return cv2.resize(inv, (w, h), interpolation=cv2.INTER_LINEAR)


    def _fit_to_noise(self, average: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The model's output on the average (float32 [H, W, C], modified in place) with its
        correction r = average - out scaled down where r holds more energy than the noise the
        average still has (one frame's, measured, over the frames it holds): a blind model does
        not know that an average of 16 frames is nearly clean, and takes away detail there.
        The share s = min(1, FIT * expected / blur(r^2)) per pixel is a ratio (still
        bias-free); where the average holds one frame (a first frame, a cut, what moved) the
        output is the model's."""
        fa = self._average
        noise = fa.noise
        if noise.var is None or noise.full_ratio is None or fa.count is None or fa.variance is None \
                or fa.variance.shape != fa.count.shape or float(fa.count.max()) <= 1.0:
            return out                        # nothing measured yet, a first frame or a cut: the model's
        h, w, c = out.shape
        # the correction's energy near each pixel from one pixel of each 4x4 block (a sixteenth
        # of the work; its blur spans FIT_BLUR pixels), where every 2nd count lives
        rs = average[::4, ::4] - out[::4, ::4]
        rsq = cv2.multiply(rs, rs).reshape(rs.shape)
        rsq_c = cv2.transform(rsq, np.full((1, c), 1.0 / c, np.float32)) if c > 1 else rsq
        e = cv2.GaussianBlur(rsq_c.reshape(rs.shape[:2]), (0, 0), FIT_BLUR / 4.0)
        count = fa.count[::2, ::2]
        expected = fa.variance[::2, ::2] * np.float32(FIT * noise.full_ratio) / np.maximum(count, np.float32(1.0))
        if expected.shape != e.shape:          # odd sides: the two grids differ by a row or column
            expected = cv2.resize(expected, (e.shape[1], e.shape[0]), interpolation=cv2.INTER_NEAREST)
            count = cv2.resize(count, (e.shape[1], e.shape[0]), interpolation=cv2.INTER_NEAREST)
        share = np.minimum(expected / np.maximum(e, np.float32(1e-30)), np.float32(1.0))
        share[count <= 1.0] = 1.0             # a pixel of one frame: the model's own output there
        if float(share.min()) >= 1.0:
            return out
        share = cv2.resize(share, (w, h), interpolation=cv2.INTER_LINEAR)
        # average - share * (average - out), in one pass
        out[...] = cv2.blendLinear(out, average, share, np.float32(1.0) - share).reshape(out.shape)
        return out


def _misfit(average: np.ndarray, frame: np.ndarray, dy: int, dx: int) -> float:
    """Median over every 4th pixel of |average moved by whole pixels (dy, dx) - frame| (both
    float32 [H, W, C]; summed over channels; motion.align's convention: moved[y, x] =
    average[y + dy, x + dx]), read in place through strided views instead of moving the whole
    frame to use 1/16 of it. inf: no overlap."""
    h, w = frame.shape[:2]
    y0, x0 = -(-max(0, -dy) // 4) * 4, -(-max(0, -dx) // 4) * 4   # first rows / columns with a past
    y1, x1 = min(h, h - dy), min(w, w - dx)
    if y0 >= y1 or x0 >= x1:
        return np.inf
    moved = average[y0 + dy:y1 + dy:4, x0 + dx:x1 + dx:4]
    return float(np.median(np.abs(moved - frame[y0:y1:4, x0:x1:4]).sum(axis=2)))


def _steadier(shift: Tuple[int, int], average: Optional[np.ndarray], frame: np.ndarray) -> Tuple[int, int]:
    """The estimated whole-pixel shift, or (0, 0) when that fits the frame better (average and
    frame: float32 [H, W, C]): a small estimated shift can be an object's motion pulling the
    correlation peak (seen: a still background read as 1 px off on every other frame, and
    averaged misaligned). Compared on every 4th pixel."""
    if shift == (0, 0) or average is None or average.shape != frame.shape:
        return shift
    return (0, 0) if _misfit(average, frame, 0, 0) <= _misfit(average, frame, *shift) else shift
