"""Self-ensemble: average the model over flips and rotations of the frame.

A trained CNN is not exactly rotation or flip equivariant, and its errors differ between
orientations, so averaging the outputs of N dihedral transforms of the frame (each undone
after denoising) removes part of them, for N times the time of one pass. The gains per model
are measured by `benchmarks/quality.py --ensembles 1 2 8` (benchmarks/RESULTS.md).

Which transforms, in order: 2 passes take identity and a 180-degree rotation (the best
second pass of flip / rotation / transpose / one-pixel shift in that run), 4 add the two
flips, 8 add the four transposed ones. Each output is still a bias-free network's output,
so the average is positively homogeneous and locally linear like the single pass.

Frames here are [H, W, C] arrays (any dtype); transforms return views, callers make them
contiguous where needed.
"""
from __future__ import annotations

from typing import Callable, List, Tuple

import numpy as np

CHOICES = (1, 2, 4, 8)

Transform = Callable[[np.ndarray], np.ndarray]


def _t(x: np.ndarray) -> np.ndarray:
    return x.transpose(1, 0, 2)


# (forward, inverse) pairs; the first four keep the frame's shape, the last four transpose it
_PAIRS: List[Tuple[Transform, Transform]] = [
    (lambda x: x, lambda x: x),
    (lambda x: x[::-1, ::-1], lambda x: x[::-1, ::-1]),
    (lambda x: x[:, ::-1], lambda x: x[:, ::-1]),
    (lambda x: x[::-1, :], lambda x: x[::-1, :]),
    (_t, _t),
    (lambda x: _t(x)[::-1, ::-1], lambda x: _t(x[::-1, ::-1])),
    (lambda x: _t(x)[:, ::-1], lambda x: _t(x[:, ::-1])),
    (lambda x: _t(x)[::-1, :], lambda x: _t(x[::-1, :])),
]


def check(n: object) -> int:
    """The number of passes as an int; ValueError naming the choices otherwise."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) not in CHOICES:
        raise ValueError(f"ensemble must be one of {CHOICES} (passes over flipped / rotated copies of "
                         f"the frame; 1 = off), got {n!r}")
    return int(n)


def transforms(n: int) -> List[Tuple[Transform, Transform, bool]]:
    """The first n (forward, inverse, transposes) triples, n in CHOICES."""
    return [(f, g, i >= 4) for i, (f, g) in enumerate(_PAIRS[:check(n)])]


def average(run: Callable[[np.ndarray], np.ndarray], image: np.ndarray, n: int) -> np.ndarray:
    """Mean over the first n transforms of inverse(run(forward(image))).

    image: [H, W, C]; run maps a C-contiguous [h, w, C] frame (for the transposed passes
    [W, H, C]) to float32 of the same height and width. Returns float32 [H, W, C']."""
    if n == 1:
        return run(image)
    acc = None
    for forward, inverse, _ in transforms(n):
        out = inverse(run(np.ascontiguousarray(forward(image))))
        if acc is None:
            acc = np.array(out, np.float32)    # an owned copy: out may be a view
        else:
            acc += out
    acc *= np.float32(1.0 / n)
    return acc
