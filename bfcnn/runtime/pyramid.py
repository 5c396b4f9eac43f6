"""Gaussian pyramid: the C++ op's Python face, with a numpy reference implementation.

`BACKEND` is "cpp" when the pybind11 extension is built (pip install .), "numpy" otherwise;
the fallback warns once, and BFCNN_REQUIRE_CPP=1 turns it into an ImportError (CI sets it).

Arrays: images are HxW or HxWxC (C <= 4), uint8 or float32; every output is float32.
"""
from __future__ import annotations

import os
import warnings
from typing import List, Optional, Sequence, Tuple

import numpy as np

try:
    from bfcnn.runtime import _pyramid as _ext
    BACKEND = "cpp"
except ImportError as _exc:  # not built: say so, never silently
    if os.environ.get("BFCNN_REQUIRE_CPP") == "1":
        raise ImportError("bfcnn's C++ pyramid op is not built; run `pip install -e .` from the repo "
                          "root, which builds it in place (BFCNN_REQUIRE_CPP=1 forbids the numpy "
                          "fallback)") from _exc
    _ext = None
    BACKEND = "numpy"
    warnings.warn(f"bfcnn's C++ pyramid op is not built in {os.path.dirname(os.path.abspath(__file__))}; "
                  f"using the slower numpy pyramid. In a source checkout run `pip install -e .` (it builds "
                  f"the op in place; `pip install .` builds it into site-packages only, which Python "
                  f"started in the checkout does not import); elsewhere reinstall with a C++ compiler",
                  RuntimeWarning, stacklevel=2)

_K = np.array([1.0, 4.0, 6.0, 4.0, 1.0], dtype=np.float32)


def _check(image: np.ndarray, levels: int) -> None:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be HxW or HxWxC, got shape {image.shape}")
    if image.ndim == 3 and not 1 <= image.shape[2] <= 4:
        raise ValueError(f"image must have 1..4 channels, got {image.shape[2]}")
    if image.size == 0:
        raise ValueError(f"image is empty (shape {image.shape})")
    if image.dtype not in (np.uint8, np.float32):
        raise ValueError(f"image dtype must be uint8 or float32, got {image.dtype}")
    if not isinstance(levels, (int, np.integer)) or not 1 <= levels <= 16:
        raise ValueError(f"levels must be an integer in 1..16, got {levels!r}")


def _down_numpy(x: np.ndarray) -> np.ndarray:
    """Reference cv2.pyrDown on float32 HxWxC (reflect-101 = numpy 'reflect')."""
    h, w = x.shape[:2]
    mode = "reflect" if min(h, w) > 1 else "edge"
    p = np.pad(x, ((2, 2), (2, 2), (0, 0)), mode=mode) if min(h, w) > 2 else _pad_small(x)
    rows = sum(_K[i] * p[i:i + h:2] for i in range(5))          # vertical, decimated
    out = sum(_K[i] * rows[:, i:i + w:2] for i in range(5))     # horizontal, decimated
    return (out / np.float32(256.0)).astype(np.float32)


def _pad_small(x: np.ndarray) -> np.ndarray:
    """Reflect-101 padding by 2 for sides of 1 or 2 pixels (numpy's reflect needs > 2)."""
    def idx(n):
        out = []
        for i in range(-2, n + 2):
            j = i
            if n == 1:
                j = 0
            while j < 0 or j >= n:
                j = -j if j < 0 else 2 * n - 2 - j
            out.append(j)
        return np.array(out)
    return x[idx(x.shape[0])][:, idx(x.shape[1])]


def _pyramid_numpy(image: np.ndarray, levels: int, scale: float) -> List[np.ndarray]:
    x = image.astype(np.float32) * np.float32(scale)
    squeeze = x.ndim == 2
    if squeeze:
        x = x[:, :, None]
    out = [x]
    for _ in range(1, levels):
        out.append(_down_numpy(out[-1]))
    return [o[:, :, 0] if squeeze else o for o in out]


def level_shapes(height: int, width: int, levels: int) -> List[Tuple[int, int]]:
    """(h_k, w_k) of each level: h_0 = height, h_k = (h_{k-1} + 1) // 2."""
    out = [(height, width)]
    for _ in range(1, levels):
        out.append(((out[-1][0] + 1) // 2, (out[-1][1] + 1) // 2))
    return out


def pyramid_down(image: np.ndarray, levels: int, scale: float = 1.0, backend: str = "",
                 out: Optional[List[np.ndarray]] = None, threads: int = 1) -> List[np.ndarray]:
    """List of `levels` float32 arrays: level 0 = image * scale, level k = cv2.pyrDown(level k-1),
    size ((h+1)//2, (w+1)//2). Zero-copy for any strides with the C++ backend.

    out: optional list of writable C-contiguous float32 arrays, one per level, each holding
    exactly that level (leading 1-dims allowed, e.g. TFLite input tensors [1, h, w, C]);
    the levels are written there without allocating, and `out` is returned.
    threads: 1-64 cores for the C++ backend (levels 0 and 1 in parallel bands of rows; the
    result is identical for any count)."""
    _check(image, levels)
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or not 1 <= threads <= 64:
        raise ValueError(f"threads must be an integer in 1..64, got {threads!r}")
    use = backend or BACKEND
    if use == "cpp":
        if _ext is None:
            raise RuntimeError("C++ backend requested but not built; run `pip install .`")
        return _ext.pyramid_down(image, int(levels), float(scale), out, int(threads))
    if use != "numpy":
        raise ValueError(f"backend must be 'cpp' or 'numpy', got {backend!r}")
    result = _pyramid_numpy(image, levels, scale)
    if out is None:
        return result
    if len(out) != levels:
        raise ValueError(f"out needs one array per level ({levels}), got {len(out)}")
    for k, (dst, lvl) in enumerate(zip(out, result)):
        if dst.dtype != np.float32 or dst.size != lvl.size:
            raise ValueError(f"out[{k}] must be float32 holding a {lvl.shape} level")
        np.copyto(dst.reshape(lvl.shape), lvl)
    return out


def pyr_up(image: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """One upsampling step (zero insertion + binomial x4) of float32 HxW[xC] to `shape` (h, w),
    where h is 2*H or 2*H-1 (likewise w)."""
    if _ext is None:
        return _up_numpy(image, shape)
    return _ext.pyr_up(np.ascontiguousarray(image, dtype=np.float32), int(shape[0]), int(shape[1]))


def _up_numpy(image: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    x = image.astype(np.float32)
    squeeze = x.ndim == 2
    if squeeze:
        x = x[:, :, None]
    h, w = shape
    z = np.zeros((h, w, x.shape[2]), np.float32)
    z[::2, ::2] = x[: (h + 1) // 2, : (w + 1) // 2]
    p = _pad_small(z) if min(h, w) <= 2 else np.pad(z, ((2, 2), (2, 2), (0, 0)), mode="reflect")
    rows = sum(_K[i] * p[i:i + h] for i in range(5))
    out = sum(_K[i] * rows[:, i:i + w] for i in range(5)) * np.float32(4.0 / 256.0)
    return out[:, :, 0] if squeeze else out


def laplacian_pyramid(image: np.ndarray, levels: int, scale: float = 1.0) -> List[np.ndarray]:
    """Band-pass levels b_k = g_k - pyr_up(g_{k+1}) and the coarsest Gaussian level last."""
    g = pyramid_down(image, levels, scale)
    bands = [g[k] - pyr_up(g[k + 1], g[k].shape[:2]) for k in range(levels - 1)]
    return bands + [g[-1]]


def reconstruct(bands: Sequence[np.ndarray]) -> np.ndarray:
    """Inverse of laplacian_pyramid: upsample-and-add from the coarsest level. float32."""
    out = np.asarray(bands[-1], dtype=np.float32)
    for band in reversed(bands[:-1]):
        out = band + pyr_up(out, band.shape[:2])
    return out
