"""Video from still images: a virtual camera's views, and the named scenes the video benchmark and
tests measure on.

`view` renders what a camera centred on a point of a still image sees (sub-pixel position,
rotation, zoom); the scenes below are made with it. Numpy + OpenCV only (no TensorFlow): the
runtime's tests use the scenes.

Scenes (frames uint8 HxWxC, BGR or gray, as a camera hands them over):
- static:   a still camera on a still scene.
- slow_pan: a pan of 1.0 px/frame across and 0.3 px/frame down (sub-pixel, as real pans are).
- shake:    a hand-held camera: every frame jumps up to 12 px in each direction.
- object:   a still background with an object (an ellipse of another image) crossing at 6 px/frame.
- cut:      a still scene, then another one from frame `frames // 2` on.
"""
from __future__ import annotations

from typing import List, Tuple

import cv2
import numpy as np

SCENES = ("static", "slow_pan", "shake", "object", "cut")


def view(src: np.ndarray, center, angle: float, zoom: float, h: int, w: int) -> np.ndarray:
    """The h x w view of `src` (uint8 HxWxC) centred at `center` (x, y, float), rotated by
    `angle` radians and scaled by `zoom`, bilinear, reflected at the image borders."""
    a, b = zoom * np.cos(angle), zoom * np.sin(angle)
    m = np.array([[a, -b, 0.0], [b, a, 0.0]], np.float64)   # view pixel -> source pixel
    m[:, 2] = np.asarray(center, np.float64) - m[:, :2] @ np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    out = cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REFLECT_101)
    return out.reshape(h, w, src.shape[2] if src.ndim == 3 else 1)


def ellipse_mask(h: int, w: int, ry: float, rx: float) -> np.ndarray:
    """float32 [h, w]: a soft-edged ellipse (radii ry, rx) centred in the frame."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    inside = ((yy - (h - 1) / 2) / ry) ** 2 + ((xx - (w - 1) / 2) / rx) ** 2 <= 1.0
    return cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 1.0)


def paste(background: np.ndarray, texture: np.ndarray, mask: np.ndarray, shift) -> np.ndarray:
    """float32 frame: `texture` (float32 [h, w, C], already sampled where the object is) over
    `background` (float32 [h, w, C]) where `mask` (float32 [h, w], centred) moved by `shift` (x, y) is."""
    h, w = mask.shape
    m = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]], np.float32)
    moved = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_LINEAR).reshape(h, w, 1)
    return moved * texture + (1.0 - moved) * background


def scene(name: str, image: np.ndarray, other: np.ndarray, frames: int = 20,
          size: Tuple[int, int] = (480, 640), seed: int = 0) -> List[np.ndarray]:
    """`frames` clean frames (uint8 [h, w, C]) of scene `name` (see SCENES) over `image`, with
    `other` as the object or the scene after the cut. Both images at least as large as `size`
    (h, w); `seed` draws the shake."""
    if name not in SCENES:
        raise ValueError(f"unknown scene {name!r}; choose from {', '.join(SCENES)}")
    h, w = size
    for img in (image, other):
        if img.shape[0] < h or img.shape[1] < w:
            raise ValueError(f"scene images must be at least {w}x{h}, got {img.shape[1]}x{img.shape[0]}")
    rng = np.random.default_rng(seed)
    center = np.array([(image.shape[1] - 1) / 2.0, (image.shape[0] - 1) / 2.0])
    mask = ellipse_mask(h, w, h / 5, w / 6)
    out = []
    for t in range(frames):
        if name == "slow_pan":
            pos = center + np.array([1.0, 0.3]) * (t - frames / 2)
        elif name == "shake":
            pos = center + rng.uniform(-12, 12, size=2)
        else:
            pos = center
        src = other if name == "cut" and t >= frames // 2 else image
        frame = view(src, pos, 0.0, 1.0, h, w).astype(np.float32)
        if name == "object":
            shift = np.array([6.0 * t - 0.35 * w, 0.0])
            texture = view(other, np.array([(other.shape[1] - 1) / 2.0, (other.shape[0] - 1) / 2.0]) - shift,
                           0.0, 1.0, h, w).astype(np.float32)
            frame = paste(frame, texture, mask, shift)
        out.append(np.clip(np.rint(frame), 0, 255).astype(np.uint8).reshape(h, w, -1))
    return out
