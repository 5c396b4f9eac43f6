"""VideoDenoiser: a stream's frames denoised with the frames before them.

A temporal model (card: "temporal": true) takes the noisy frame and its own previous output,
aligned to the frame (bfcnn/runtime/motion.py: one global integer shift, estimated on a small
thumbnail), and decides per pixel how far to trust that past: on still and slowly panning
shots the noise of many frames averages out; where the past does not fit (a moving object, an
uncovered border, a cut) it falls back to what it sees in this frame alone. Still bias-free:
f(a*y, a*past) = a*f(y, past), so every output pixel is an adaptive filter over space and time.

The state is the previous output (float32, the frame's padded size) and its thumbnails. It
starts over (`reset()`, or by itself) on the first frame, on a change of frame shape or dtype, and on a detected cut (motion.estimate: no clear correlation peak and a large
difference, or a large difference after alignment). Frames: the contract of Denoiser (HxW,
HxWx1 or HxWx3 BGR; uint8 or float32 in [0, 1]); same shape and dtype out.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import traceback
from dataclasses import dataclass
from typing import List, Optional, Tuple

import cv2
import numpy as np

from bfcnn.runtime import motion, pyramid
from bfcnn.runtime.motion import check_flags
from bfcnn.runtime.core_model import check_backend, open_core
from bfcnn.runtime.frames import (StrengthSetting, check_threads, finish_output, unit_scale, validate_frame,
                                   warn_gray_frame)
from bfcnn.runtime.tiling import align_up, pad_bottom_right
from bfcnn.zoo import DEFAULT_VIDEO_MODEL, ModelCard, ModelError, pick_quantization, resolve


@dataclass
class VideoStats:
    """What the stream denoiser did so far: frames, restarts (first frame, size change, reset(),
    cut), cuts detected, and the last frame's global shift (dy, dx) in pixels (whole pixels for
    VideoDenoiser; frame averaging registers fractions of a pixel)."""
    frames: int = 0
    restarts: int = 0
    cuts: int = 0
    last_shift: Tuple[float, float] = (0, 0)


class VideoDenoiser:
    """Temporal, bias-free denoiser of a stream; call it on each frame in order.

    model: a shipped temporal model's name, an exported folder or .tflite path with its card;
        None: bfcnn.zoo.DEFAULT_VIDEO_MODEL.
    num_threads: LiteRT threads (default: all cores).
    quantization: which file of the model to run (default: "none", float32).
    strength: s in [0, 1.5], output y + s * (f(y, past) - y), as for Denoiser; the past is the
        model's own output, not the mixed one.
    motion: estimate global motion (default); False assumes a fixed camera (shift 0).
    detect_cuts: start over when the aligned past no longer matches the frame (default).
    backend: "litert" (default) or "onnxruntime", as for Denoiser.
    Calls are serialized by a lock; one VideoDenoiser follows one stream.
    """

    strength = StrengthSetting()

    def __init__(self, model: Optional[str] = None, num_threads: Optional[int] = None,
                 quantization: Optional[str] = None, strength: float = 1.0, motion: bool = True,
                 detect_cuts: bool = True, backend: str = "litert"):
        model = DEFAULT_VIDEO_MODEL if model is None else model
        self.card: ModelCard = resolve(model)
        self.label = self.card.name   # what a stream's statistics call it
        if not self.card.temporal:
            raise ModelError(f"{self.card.name} is a still model (its card has no \"temporal\": true); "
                             f"use Denoiser for it, or a video model here "
                             f"({', '.join(_video_models()) or 'none installed'})")
        check_threads(num_threads)
        check_flags(motion, detect_cuts)
        self.strength = strength
        self.quantization = pick_quantization(self.card, model, quantization)
        self.num_threads = int(num_threads or os.cpu_count() or 1)
        self.motion, self.detect_cuts = motion, detect_cuts
        self.backend = check_backend(backend, self.quantization)
        self._model = open_core(self.card, self.quantization, self.backend, self.num_threads)
        if self._model.num_inputs != 2 * self.card.levels:
            raise ModelError(f"{self._model.path} has {self._model.num_inputs} inputs but a temporal model "
                             f"with levels={self.card.levels} has {2 * self.card.levels}; re-export")
        self._lock = threading.Lock()
        self._warned_gray = False
        self.stats = VideoStats()
        self._forget()

    def close(self) -> None:
        """Nothing to release but the interpreter (dropped with the object): here so that every
        denoiser closes alike, and for `with VideoDenoiser(...) as video:`."""

    def __enter__(self) -> "VideoDenoiser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def reset(self) -> None:
        """Forget the past: the next frame is denoised as a first frame. Waits for a frame in
        progress (its past would otherwise be kept after the reset)."""
        with self._lock:
            self._forget()

    def _forget(self) -> None:
        self._past: Optional[np.ndarray] = None
        self._past_thumb: Optional[np.ndarray] = None
        self._past_fine: Optional[np.ndarray] = None
        self._key: Tuple = ()

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise the next frame of the stream; returns the same shape and dtype."""
        image, squeeze, dtype = validate_frame(image)
        with self._lock:
            scale = unit_scale(dtype)
            frame = self._model_frame(image)
            out = self._step(frame, scale, (image.shape, dtype))
            if frame is not image:
                out = out.mean(axis=2, keepdims=True)
            return finish_output(out, image, scale, self.strength, dtype, squeeze)

    def past_share(self, image: np.ndarray, epsilon: float = 1e-3) -> np.ndarray:
        """How much of each output pixel for `image` (the next frame) comes from the past:
        float32 [H, W] in [0, 1], without advancing the stream. The model is jointly homogeneous,
        so its output is J_y y + J_p p (Euler); the past's part J_p p is the derivative along p,
        taken here as a finite difference of two runs, over |output| (channel means). 0 on a
        first frame and after a cut; near the trust G of the last blend elsewhere."""
        image, _, dtype = validate_frame(image)
        with self._lock:
            scale = unit_scale(dtype)
            frame = self._model_frame(image)
            saved = (self._past, self._past_thumb, self._past_fine, self._key, dataclasses.replace(self.stats))
            try:
                base = self._step(frame, scale, (image.shape, dtype)).copy()
                if saved[0] is None or self.stats.cuts > saved[4].cuts:
                    return np.zeros(image.shape[:2], np.float32)
                self._past, self._past_thumb, self._past_fine, self._key = \
                    saved[0] * np.float32(1.0 + epsilon), saved[1], saved[2], saved[3]
                moved = self._step(frame, scale, (image.shape, dtype))
            finally:
                self._past, self._past_thumb, self._past_fine, self._key, self.stats = saved
            part = np.abs(moved - base).mean(axis=2) / np.float32(epsilon)
            return np.clip(part / (np.abs(base).mean(axis=2) + np.float32(1e-6)), 0.0, 1.0)

    # ----------------------------------------------------------------- helpers
    def _model_frame(self, image: np.ndarray) -> np.ndarray:
        """[H, W, C] in the model's channels: a gray frame is repeated for a colour model (which
        warns once, as Denoiser does); a colour frame for a gray model is refused."""
        if image.shape[2] == self.card.channels:
            return image
        if self.card.channels == 1:
            raise ValueError(f"{self.card.name} is a gray video model and the frame has 3 channels; "
                             f"use a colour video model (edge_color_video; bfcnn-runtime: "
                             f"--video-model edge_color_video) or pass cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)")
        if not self._warned_gray:
            self._warned_gray = True
            warn_gray_frame(self.card.name)
        return np.repeat(image, 3, axis=2)

    def _step(self, frame: np.ndarray, scale: np.float32, key: Tuple) -> np.ndarray:
        """[H, W, C] uint8/float32 -> float32 [H, W, C] in ~[0, 1]; updates the state. `key`
        (the caller's frame shape and dtype): a new one starts over.

        Motion is estimated between the thumbnails of consecutive *frames* (an output is
        aligned with its frame), and the thumbnail is the frame pyramid's 1/4 level that the
        model needs anyway: no extra pass over the frame (the two resizes it replaced cost
        0.6 ms of a 640x480 colour frame). Same verdicts as on area-averaged thumbnails of the
        outputs on Kodak24 (0 of 96 shifts wrong at sigma 0-75, 72 of 72 cuts found)."""
        h, w, c = frame.shape
        stride = self.card.stride
        ph, pw = align_up(h, stride), align_up(w, stride)
        if (ph, pw) != (h, w):
            frame = pad_bottom_right(frame, ph - h, pw - w)
        restart = self._past is None or key != self._key
        levels = self.card.levels
        shapes = [(lh, lw, c) for lh, lw in pyramid.level_shapes(ph, pw, levels)]
        quantized = self._model.quantized
        views = self._model.input_views(shapes + shapes) if not quantized else None  # level_*, prev_*
        try:
            self.stats.frames += 1
            frame_levels = pyramid.pyramid_down(frame, levels, float(scale), out=views[:levels] if views else None,
                                                threads=self.num_threads)
            thumb = _thumbnail(frame_levels, frame, scale)
            fine = _luma(frame_levels[1]) if levels > 2 else None
            if restart:
                past, shift = None, (0, 0)
                self.stats.restarts += 1
            else:
                est = motion.estimate(self._past_thumb, thumb, self._past_fine, fine)
                shift = est.shift if self.motion else (0, 0)
                if self.detect_cuts and est.cut:
                    past, shift = None, (0, 0)
                    self.stats.cuts += 1
                    self.stats.restarts += 1
                else:   # a still camera: the kept past as it is, no copy
                    past = self._past if shift == (0, 0) else motion.align(self._past, shift)
            self.stats.last_shift = shift
            if past is None:        # no past: 0, far from any frame (the model does not trust it)
                past_levels = [np.zeros(shape, np.float32) for shape in shapes] if quantized else None
                for k in range(levels if views else 0):
                    views[levels + k][...] = 0.0
            else:
                past_levels = pyramid.pyramid_down(past, levels, 1.0, out=views[levels:] if views else None,
                                                   threads=self.num_threads)
            if quantized:
                pyramids = [np.asarray(lvl) for lvl in list(frame_levels) + list(past_levels)]
        except BaseException as exc:
            # a kept traceback (a notebook keeps the last one) would keep the callees' frames
            # and with them views of the interpreter's buffers: every later frame would fail
            traceback.clear_frames(exc.__traceback__)
            raise
        finally:
            if views is not None:
                views.clear()   # LiteRT refuses to invoke while views of its buffers are alive
                del views
            frame_levels = past_levels = None
        out = self._model.invoke() if not quantized else \
            self._model([p if p.ndim == 3 else p[:, :, None] for p in pyramids])
        self._past, self._past_thumb, self._past_fine, self._key = out, thumb, fine, key
        # finish_output mixes in place for strength != 1: never hand it the kept past
        return out[:h, :w].copy() if self.strength != 1.0 else out[:h, :w]


def _luma(level) -> np.ndarray:
    """float32 [h, w] luma (a copy) of a pyramid level: [h, w], [h, w, C] or a [1, h, w, C] view."""
    level = np.asarray(level)
    level = level[0] if level.ndim == 4 else level
    if level.ndim == 3 and level.shape[2] == 3:
        return cv2.cvtColor(level, cv2.COLOR_BGR2GRAY)
    return np.array(level.reshape(level.shape[0], level.shape[1]), np.float32)


def _thumbnail(frame_levels, frame: np.ndarray, scale: np.float32) -> np.ndarray:
    """The motion thumbnail: the 1/4 pyramid level's luma when the model has one, else made."""
    if len(frame_levels) > 2:
        return _luma(frame_levels[2])
    return motion.thumbnail(frame.astype(np.float32) * scale if frame.dtype == np.uint8 else frame)


def _video_models() -> List[str]:
    from bfcnn.zoo import cards
    return [c.name for c in cards() if c.temporal]
