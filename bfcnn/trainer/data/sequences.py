"""Training sequences for temporal models, synthesized from still images.

A sequence is `video.frames` frames of `dataset.input_shape` seen by a virtual camera moving over
one training image: still, panning slowly (sub-pixel speeds) or fast, with slow rotation and
zoom on top for some, an object (a soft-edged patch of another image) crossing the view at its
own speed, a brightness ramp, or a cut to another image. Each sequence draws one noise: Gaussian
(one sigma for all its frames, per dataset.additional_noise / noise_sampling) or, for
dataset.camera_noise.fraction of them, one camera (noise levels, ISP, JPEG quality) with fresh
sensor noise every frame. The camera's noiseless render is the target, as for stills.

`shifts[t]` = (dy, dx), integers: the global motion from frame t-1 to t as the runtime estimates
it (bfcnn/runtime/motion.py), so the previous output aligned to frame t is
prev[y + dy, x + dx] (bfcnn.runtime.motion.align; the trainer's twin is align_batch). It is the
camera's true shift rounded, off by one pixel for video.shift_error_fraction of the frames (as an
estimate from noisy frames can be), and meaningless across a cut or for the object: there the
model must see from the frames themselves that the past does not fit.

Pure numpy / OpenCV, a function of (seed, step): run in the trainer's prefetch thread.
"""
from __future__ import annotations

from typing import List, NamedTuple

import numpy as np

from bfcnn.config import PipelineConfig, VideoConfig
from bfcnn.trainer.data.camera_noise import camera_pair
from bfcnn.video_scenes import ellipse_mask, paste, view


class Sequences(NamedTuple):
    """clean, noisy: float32 [B, T, h, w, C] in [0, 1]; shifts: int32 [B, T, 2] (dy, dx), row 0 unused."""
    clean: np.ndarray
    noisy: np.ndarray
    shifts: np.ndarray


def _velocity(speed_range, rng: np.random.Generator) -> np.ndarray:
    speed = rng.uniform(*speed_range)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    return speed * np.array([np.cos(angle), np.sin(angle)])


def clean_sequence(images: List[np.ndarray], v: VideoConfig, h: int, w: int,
                   rng: np.random.Generator):
    """(frames uint8 [T, h, w, C], shifts int32 [T, 2]) of one noiseless sequence."""
    t_count = v.frames
    kind = rng.choice(["static", "fast", "object", "slow"],
                      p=[v.static_fraction, v.fast_fraction, v.object_fraction,
                         1.0 - v.static_fraction - v.fast_fraction - v.object_fraction])
    cut = int(rng.integers(1, t_count)) if rng.random() < v.cut_fraction else -1
    ramp = rng.uniform(-v.brightness_step, v.brightness_step) if rng.random() < v.brightness_fraction else 0.0
    spin = rng.random() < v.rotation_fraction

    def start():
        src = images[int(rng.integers(0, len(images)))]
        if rng.random() < 0.5:
            src = src[:, ::-1]
        sh, sw = src.shape[:2]
        return np.ascontiguousarray(src), np.array([rng.uniform(w / 2, sw - w / 2), rng.uniform(h / 2, sh - h / 2)])

    src, pos = start()
    vel = {"static": np.zeros(2), "fast": _velocity(v.fast_speed, rng)}.get(
        kind, _velocity(v.pan_speed, rng) if kind != "object" or rng.random() < 0.5 else np.zeros(2))
    d_angle, d_zoom = (rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01)) if spin else (0.0, 0.0)
    if kind == "object":
        obj_src, obj_pos = start()
        obj_mask = ellipse_mask(h, w, rng.uniform(h / 8, h / 3), rng.uniform(w / 8, w / 3))
        obj_vel = _velocity(v.object_speed, rng)
        obj_off = rng.uniform(-0.5, 0.5, size=2) * np.array([w, h])     # where it starts in the view
    frames = np.empty((t_count, h, w, src.shape[2]), np.uint8)
    shifts = np.zeros((t_count, 2), np.int32)
    angle, zoom = 0.0, 1.0
    for t in range(t_count):
        if t == cut:
            src, pos = start()
        elif t > 0:
            pos = pos + vel
            angle, zoom = angle + d_angle, zoom * (1.0 + d_zoom)
            shifts[t] = np.rint(vel[::-1]).astype(np.int32)                # (dy, dx)
            if rng.random() < v.shift_error_fraction:
                shifts[t, int(rng.integers(0, 2))] += int(rng.choice([-1, 1]))
        frame = view(src, pos, angle, zoom, h, w).astype(np.float32)
        if kind == "object":
            # the object (mask and texture together) is moved by obj_off + t * obj_vel in the view
            shift = obj_off + t * obj_vel
            frame = paste(frame, view(obj_src, obj_pos - shift, 0.0, 1.0, h, w).astype(np.float32),
                          obj_mask, shift)
        if ramp:
            frame *= np.float32((1.0 + ramp) ** t)
        frames[t] = np.clip(np.rint(frame), 0, 255).astype(np.uint8).reshape(h, w, -1)
    return frames, shifts


def _gaussian_sigma(cfg: PipelineConfig, rng: np.random.Generator) -> float:
    """One sigma (grey levels) for a sequence, drawn as the still trainer draws per image."""
    values = cfg.dataset.additional_noise
    lo, hi = min(values), max(values)
    sampling = cfg.dataset.noise_sampling
    if sampling == "mixed":
        sampling = "uniform" if rng.random() < 0.5 else "log_uniform"
    if sampling == "uniform":
        return float(rng.uniform(lo, hi))
    if sampling == "log_uniform":
        return float(np.exp(rng.uniform(np.log(max(lo, 1.0)), np.log(max(hi, 1.0)))))
    return float(values[int(rng.integers(0, len(values)))])


def sample_sequences(images: List[np.ndarray], cfg: PipelineConfig, seed: int, step: int) -> Sequences:
    """The batch of sequences for `step`: a pure function of (seed, step)."""
    d = cfg.dataset
    rng = np.random.default_rng([seed, step, 23])
    h, w = d.input_shape[0], d.input_shape[1]
    t_count = cfg.video.frames
    clean = np.empty((d.batch_size, t_count, h, w, d.input_shape[2]), np.float32)
    noisy = np.empty_like(clean)
    shifts = np.zeros((d.batch_size, t_count, 2), np.int32)
    scale = np.float32(1.0 / 255.0)
    for i in range(d.batch_size):
        frames, shifts[i] = clean_sequence(images, cfg.video, h, w, rng)
        if rng.random() < d.camera_noise.fraction:
            camera_seed, record = int(rng.integers(0, 2 ** 31)), {}
            for t in range(t_count):
                target, noisy_u8 = camera_pair(frames[t], d.camera_noise, np.random.default_rng(camera_seed),
                                               noise_rng=np.random.default_rng([camera_seed, t]),
                                               isp_noise_std=record.get("noise_std"), record=record)
                clean[i, t], noisy[i, t] = target * scale, noisy_u8 * scale
            continue
        sigma = np.float32(_gaussian_sigma(cfg, rng) / 255.0)
        clean[i] = frames * scale
        field = rng.standard_normal(clean[i].shape, dtype=np.float32)
        noisy[i] = np.clip(np.rint((clean[i] + sigma * field) * 255.0), 0.0, 255.0) * scale
    return Sequences(clean, noisy, shifts)
