"""Overlap tiling aligned to the pyramid stride: each tile contributes only its core.

A tile's input is its core grown by the model's halo on every side (clipped at the frame),
so every output pixel sees exactly the input it would see in a whole-frame run: tiled
output equals whole-frame output for float models.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator


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
