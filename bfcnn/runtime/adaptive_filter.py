"""The adaptive filter behind a denoised pixel, from a .tflite model, without TensorFlow.

A bias-free ReLU network is piecewise linear and positively homogeneous, so on the noisy
image y it computes f(y) = J(y) y: output pixel p is the weighted sum of the input pixels
around it, with weights J[p, :], a row of the Jacobian. Here the row is measured by finite
differences: f(y + eps e_q) - f(y) = eps J[:, q] exactly as long as no ReLU changes state
between y and y + eps e_q. With eps = 1e-3 (a quarter of a grey level) the measured rows
match the autodiff ones of the Keras model to ~1e-4 (tests/trainer/test_explain.py).

Each perturbed pixel is one model run on a crop of radius `halo` around p (exact, like
tiling), batched; cost is (2r + 1)^2 * C runs of that crop, e.g. 0.5-3 s for r = 12.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from bfcnn.runtime import pyramid
from bfcnn.runtime.denoiser import Denoiser
from bfcnn.runtime.tiling import align_up, pad_bottom_right


@dataclass
class AdaptiveFilter:
    """Weights of one output pixel. weights: float32 [2r+1, 2r+1, C_out, C_in], centred on the
    pixel (x, y); `inside` = sum(weights * y) over the window, `output` = f(y) at the pixel
    (both [C_out], [0, 1] scale): their gap is the part of the filter outside the window."""
    x: int
    y: int
    weights: np.ndarray
    inside: np.ndarray
    output: np.ndarray

    def heat_map(self) -> np.ndarray:
        """[2r+1, 2r+1] float32, what users see: weights summed over input channels, averaged
        over output channels (the filter a gray image sees)."""
        return self.weights.sum(axis=3).mean(axis=2)


def check_blind(den: Denoiser) -> None:
    """ValueError for a noise-conditioned model: its output is J_y y + J_s s, the filter of the
    frame plus a term of the noise map, so one row of J_y is not the whole story; its filters
    are not shown yet."""
    if den.card.noise_input:
        raise ValueError(f"{den.card.name} is noise-conditioned: its output is a filter of the frame "
                         f"plus a term of its noise map, which explain does not show yet; explain a "
                         f"blind model (e.g. edge_color_realtime)")


def _pyramid(batch: np.ndarray, levels: int) -> List[np.ndarray]:
    """[B, h, w, C] float32 -> list of [B, h_k, w_k, C], each image through the runtime's
    pyramid op (cv2.pyrDown semantics, the same front end the Denoiser uses)."""
    per_image = [pyramid.pyramid_down(img, levels) for img in batch]
    return [np.stack([p[k] for p in per_image]) for k in range(levels)]


def window_around(image: np.ndarray, cy: int, cx: int, radius: int) -> Tuple[np.ndarray, Tuple[slice, slice],
                                                                            Tuple[slice, slice]]:
    """The (2r+1)^2 window of `image` [H, W, C] centred on (cy, cx), zero outside the image,
    with the image slices it came from and where they sit in the window."""
    h, w, c = image.shape
    y0, y1, x0, x1 = max(0, cy - radius), min(h, cy + radius + 1), max(0, cx - radius), min(w, cx + radius + 1)
    oy, ox = y0 - (cy - radius), x0 - (cx - radius)
    src = (slice(y0, y1), slice(x0, x1))
    dst = (slice(oy, oy + y1 - y0), slice(ox, ox + x1 - x0))
    window = np.zeros((2 * radius + 1, 2 * radius + 1, c), np.float32)
    window[dst] = image[src]
    return window, src, dst


def adaptive_filters(den: Denoiser, image: np.ndarray, pixels: Sequence[Tuple[int, int]], radius: int = 12,
                     eps: float = 1e-3, batch: int = 64) -> List[AdaptiveFilter]:
    """Filters of `pixels` ((x, y) pairs) for the float model of `den` on `image`.

    image: float32 [H, W, C] in [0, 1] with C = the model's channels (the noisy input).
    radius: half-size of the measured window (the filter beyond it is not measured).
    """
    check_blind(den)
    if den.core.quantized:
        raise ValueError("finite differences need the float model: Denoiser(name, quantization='none')")
    if image.dtype != np.float32 or image.ndim != 3 or image.shape[2] != den.card.channels:
        raise ValueError(f"image must be float32 [H, W, {den.card.channels}] in [0, 1], "
                         f"got {image.dtype} {image.shape}")
    card = den.card
    h, w, c = image.shape
    ph, pw = align_up(h, card.stride), align_up(w, card.stride)
    padded = pad_bottom_right(image, ph - h, pw - w) if (ph, pw) != (h, w) else image
    results = []
    for (x, y) in pixels:
        if not (0 <= x < w and 0 <= y < h):
            raise ValueError(f"pixel ({x}, {y}) is outside the {w}x{h} image")
        y0 = max(0, (y - card.halo) // card.stride * card.stride)
        x0 = max(0, (x - card.halo) // card.stride * card.stride)
        y1 = min(ph, align_up(y + card.halo + 1, card.stride))
        x1 = min(pw, align_up(x + card.halo + 1, card.stride))
        crop = padded[y0:y1, x0:x1]
        base = den.core.run_batch(_pyramid(crop[None], card.levels))[0]
        cy, cx = y - y0, x - x0
        qs = [(qy, qx, ch) for qy in range(cy - radius, cy + radius + 1)
              for qx in range(cx - radius, cx + radius + 1) for ch in range(c)
              if 0 <= qy < crop.shape[0] and 0 <= qx < crop.shape[1]]
        weights = np.zeros((2 * radius + 1, 2 * radius + 1, c, c), np.float32)
        for start in range(0, len(qs), batch):
            chunk = qs[start:start + batch]
            stack = np.repeat(crop[None], len(chunk), axis=0)
            for i, (qy, qx, ch) in enumerate(chunk):
                stack[i, qy, qx, ch] += eps
            out = den.core.run_batch(_pyramid(stack, card.levels))
            cols = (out[:, cy, cx, :] - base[cy, cx, :]) / eps          # [n, C_out]
            for i, (qy, qx, ch) in enumerate(chunk):
                weights[qy - cy + radius, qx - cx + radius, :, ch] = cols[i]
        window, _, _ = window_around(crop, cy, cx, radius)
        inside = np.einsum("hwoi,hwi->o", weights, window)
        results.append(AdaptiveFilter(x, y, weights, inside, base[cy, cx, :].copy()))
    return results


def jacobian_patch(den: Denoiser, patch: np.ndarray, eps: float = 1e-3, batch: int = 64) -> np.ndarray:
    """Full Jacobian of the model on a small patch (treated as the whole image):
    patch float32 [h, w, C] (h, w multiples of the stride) -> [h*w*C, h*w*C], J[out, in]."""
    check_blind(den)
    h, w, c = patch.shape
    if h % den.card.stride or w % den.card.stride:
        raise ValueError(f"patch sides must be multiples of {den.card.stride}, got {h}x{w}")
    base = den.core.run_batch(_pyramid(patch[None], den.card.levels))[0].reshape(-1)
    n = h * w * c
    jac = np.zeros((n, n), np.float32)
    for start in range(0, n, batch):
        idx = np.arange(start, min(n, start + batch))
        stack = np.repeat(patch[None], len(idx), axis=0).reshape(len(idx), -1)
        stack[np.arange(len(idx)), idx] += eps
        out = den.core.run_batch(_pyramid(stack.reshape(-1, h, w, c), den.card.levels))
        jac[:, idx] = ((out.reshape(len(idx), -1) - base) / eps).T
    return jac


def effective_dimension(singular_values: np.ndarray) -> float:
    """sum(s^2) = ||J||_F^2: d for an orthogonal projection onto a d-dimensional subspace, the
    paper's measure of how many directions of the noisy patch the denoiser keeps."""
    return float(np.sum(np.square(singular_values)))
