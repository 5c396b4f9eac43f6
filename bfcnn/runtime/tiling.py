"""Overlap tiling aligned to the pyramid stride: each tile contributes only its core.

A tile's input is its core grown by the model's halo on every side (clipped at the frame),
so every output pixel sees exactly the input it would see in a whole-frame run: tiled
output equals whole-frame output for float models.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np


@dataclass(frozen=True)
class Tile:
    """Core [y0:y1, x0:x1] and its input window [iy0:iy1, ix0:ix1] (frame coordinates)."""
    y0: int
    y1: int
    x0: int
    x1: int
    iy0: int
    iy1: int
    ix0: int
    ix1: int


def align_up(n: int, stride: int) -> int:
    return -(-n // stride) * stride


def tiles(height: int, width: int, tile: int, halo: int, stride: int) -> Iterator[Tile]:
    """Cover a height x width frame (multiples of `stride`) with tile x tile cores."""
    if tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    tile = align_up(tile, stride)
    halo = align_up(halo, stride)
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            yield Tile(y0, y1, x0, x1, max(0, y0 - halo), min(height, y1 + halo),
                       max(0, x0 - halo), min(width, x1 + halo))


def pad_bottom_right(image: np.ndarray, dh: int, dw: int) -> np.ndarray:
    """image [H, W, C] padded by dh rows at the bottom and dw columns at the right, reflect-101
    like the pyramid (sides of 1 pixel repeat: nothing to reflect)."""
    mode = "reflect" if min(image.shape[0], image.shape[1]) > 1 else "edge"
    if image.shape[0] <= dh or image.shape[1] <= dw:  # tiny frames: pad in steps
        while image.shape[0] < image.shape[0] + dh and dh > 0:
            step = min(dh, max(1, image.shape[0] - 1)) if image.shape[0] > 1 else dh
            image = np.pad(image, ((0, step), (0, 0), (0, 0)), mode="reflect" if image.shape[0] > 1 else "edge")
            dh -= step
        while dw > 0:
            step = min(dw, max(1, image.shape[1] - 1)) if image.shape[1] > 1 else dw
            image = np.pad(image, ((0, 0), (0, step), (0, 0)), mode="reflect" if image.shape[1] > 1 else "edge")
            dw -= step
        return image
    return np.pad(image, ((0, dh), (0, dw), (0, 0)), mode=mode)
