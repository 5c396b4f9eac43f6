"""Geometric augmentation of one random crop (numpy / OpenCV; uint8 in, uint8 out)."""
from __future__ import annotations

import cv2
import numpy as np

from bfcnn.config import DatasetConfig


def augment_crop(img: np.ndarray, h: int, w: int, d: DatasetConfig, rng: np.random.Generator) -> np.ndarray:
    """Random h x w crop of `img` (uint8 HxWxC) with the configured flips / rotation / inversion."""
    ih, iw, c = img.shape
    if d.random_rotate > 0:
        # rotate a larger window, then crop its centre, so no border shows
        angle = float(np.degrees(rng.uniform(-d.random_rotate, d.random_rotate)))
        rad = np.radians(abs(angle))
        need_h = min(ih, int(np.ceil(h * np.cos(rad) + w * np.sin(rad))) + 2)
        need_w = min(iw, int(np.ceil(w * np.cos(rad) + h * np.sin(rad))) + 2)
        y0 = int(rng.integers(0, ih - need_h + 1))
        x0 = int(rng.integers(0, iw - need_w + 1))
        window = img[y0:y0 + need_h, x0:x0 + need_w]
        m = cv2.getRotationMatrix2D((need_w / 2.0, need_h / 2.0), angle, 1.0)
        window = cv2.warpAffine(window, m, (need_w, need_h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT_101).reshape(need_h, need_w, c)
        cy, cx = (need_h - h) // 2, (need_w - w) // 2
        crop = window[cy:cy + h, cx:cx + w]
    else:
        y0 = int(rng.integers(0, ih - h + 1))
        x0 = int(rng.integers(0, iw - w + 1))
        crop = img[y0:y0 + h, x0:x0 + w]
    if d.random_up_down and rng.random() < 0.5:
        crop = crop[::-1]
    if d.random_left_right and rng.random() < 0.5:
        crop = crop[:, ::-1]
    if d.random_invert and rng.random() < 0.5:
        crop = 255 - crop
    if d.flat_fraction > 0 and rng.random() < d.flat_fraction:
        # a flat patch of a random colour: teaches f(flat + noise) = flat, i.e. the coarsest
        # level's residual must not shift the local mean (measured: without it the realtime
        # colour model moved a flat (200, 100, 50) frame by (0, +3, -7) grey levels)
        crop = np.broadcast_to(rng.integers(0, 256, size=(1, 1, c), dtype=np.uint8), (h, w, c))
    return np.ascontiguousarray(crop)
