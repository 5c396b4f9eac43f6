"""python -m bfcnn.explain: the adaptive filter behind denoised pixels, as figures.

    python -m bfcnn.explain --model edge_gray_realtime --image img.png --sigma 25 \
        --pixels 120,80 200,150 --output fig.png

writes fig.png (clean, noisy, denoised and each pixel's filter), fig_sigmas.png (the first
pixel's filter at several noise levels) and fig_svd.png (singular
values of the Jacobian on a patch around the first pixel, and its effective dimension).

--model: a training run directory (exact filters by TensorFlow autodiff) or a shipped name /
exported .tflite (finite differences on the float model, no TensorFlow needed).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from bfcnn.runtime.adaptive_filter import AdaptiveFilter, adaptive_filters, effective_dimension, jacobian_patch


class RuntimeBackend:
    """Finite differences on the float .tflite (see bfcnn.runtime.adaptive_filter)."""
    method = "finite differences on the float TFLite model"

    def __init__(self, model: str) -> None:
        from bfcnn.runtime.denoiser import Denoiser
        self.den = Denoiser(model, quantization="none")
        self.name, self.channels, self.stride = self.den.card.name, self.den.card.channels, self.den.card.stride

    def denoise(self, image: np.ndarray) -> np.ndarray:
        return self.den(image)

    def filters(self, image, pixels, radius) -> List[AdaptiveFilter]:
        return adaptive_filters(self.den, image, pixels, radius)

    def jacobian(self, patch: np.ndarray) -> np.ndarray:
        return jacobian_patch(self.den, patch)


class AutodiffBackend:
    """Exact filters of a training run's latest checkpoint (TensorFlow)."""
    method = "automatic differentiation (TensorFlow, exact)"

    def __init__(self, run_dir: str) -> None:
        from bfcnn.trainer import jacobian
        self._j = jacobian
        self.built, cfg = jacobian.load_run(run_dir)
        if cfg.model.noise_input:
            raise ValueError(f"{run_dir} trains a noise-conditioned model: its output is a filter of the "
                             f"frame plus a term of its noise map, which explain does not show yet")
        self.name = os.path.basename(os.path.normpath(run_dir))
        self.channels, self.stride = cfg.model.channels, 2 ** (cfg.model.levels - 1)

    def denoise(self, image: np.ndarray) -> np.ndarray:
        return np.asarray(self.built.full(image[None], training=False))[0]

    def filters(self, image, pixels, radius) -> List[AdaptiveFilter]:
        return self._j.filters_autodiff(self.built.full, image, pixels, radius)

    def jacobian(self, patch: np.ndarray) -> np.ndarray:
        return self._j.jacobian_autodiff(self.built.full, patch)


def backend_for(model: str):
    if os.path.isfile(os.path.join(model, "pipeline.json")) and os.path.isdir(os.path.join(model, "checkpoints")):
        return AutodiffBackend(model)
    return RuntimeBackend(model)


def parse_pixel(text: str) -> Tuple[int, int]:
    try:
        x, y = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"pixel {text!r}: expected x,y, e.g. 120,80") from None
    return x, y


def add_noise(clean: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """uint8-clipped AWGN (the camera protocol): float32 [0,1] in -> float32 [0,1] out."""
    rng = np.random.default_rng(seed)
    noisy = np.rint(clean * 255.0 + rng.normal(0.0, sigma, clean.shape))
    return (np.clip(noisy, 0, 255) / 255.0).astype(np.float32)


def _load(path: str, channels: int) -> np.ndarray:
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"cannot read image {path!r}")
    img = img.astype(np.float32) / 255.0
    return img[:, :, None] if img.ndim == 2 else img


def patch_around(image: np.ndarray, pixel: Tuple[int, int], side: int) -> np.ndarray:
    h, w = image.shape[:2]
    side = min(side, h, w)
    y0 = int(np.clip(pixel[1] - side // 2, 0, h - side))
    x0 = int(np.clip(pixel[0] - side // 2, 0, w - side))
    return np.ascontiguousarray(image[y0:y0 + side, x0:x0 + side])


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bfcnn.explain", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="training run dir, shipped name or .tflite")
    p.add_argument("--image", required=True, help="clean image (noise is added at --sigma)")
    p.add_argument("--sigma", type=float, default=25.0, help="noise sigma on the 0-255 scale (0: image is the input)")
    p.add_argument("--pixels", type=parse_pixel, nargs="+", required=True, help="x,y [x,y ...]")
    p.add_argument("--sigmas", default="5,15,25,50,75", help="noise levels of the second figure")
    p.add_argument("--radius", type=int, default=12, help="half-size of the filter window")
    p.add_argument("--patch", type=int, default=16, help="side of the patch for the Jacobian's singular values")
    p.add_argument("--output", default="explain.png", help="first figure; _sigmas and _svd beside it")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        sigmas = [float(s) for s in args.sigmas.split(",")]
    except ValueError:
        p.error(f"--sigmas {args.sigmas!r}: expected numbers separated by commas, e.g. 5,25,50")
    try:
        from bfcnn import explain_plots
        backend = backend_for(args.model)
        clean = _load(args.image, backend.channels)
        h, w = clean.shape[:2]
        for x, y in args.pixels:
            if not (0 <= x < w and 0 <= y < h):
                raise ValueError(f"pixel {x},{y} is outside the {w}x{h} image")
        noisy = add_noise(clean, args.sigma, args.seed) if args.sigma > 0 else clean
        denoised = backend.denoise(noisy)
        filters = backend.filters(noisy, args.pixels, args.radius)
        base, ext = os.path.splitext(args.output)
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        written = [explain_plots.filters_figure(args.output, backend, clean if args.sigma > 0 else None,
                                                noisy, denoised, filters, args.sigma)]
        first = args.pixels[0]
        per_sigma = [(s, backend.filters(add_noise(clean, s, args.seed), [first], args.radius)[0]) for s in sigmas]
        written.append(explain_plots.sigmas_figure(f"{base}_sigmas{ext}", backend, per_sigma))
        side = max(backend.stride, args.patch // backend.stride * backend.stride)
        spectra = []
        for s in sigmas[:: max(1, len(sigmas) // 3)]:
            patch = patch_around(add_noise(clean, s, args.seed), first, side)
            sv = np.linalg.svd(backend.jacobian(patch), compute_uv=False)
            spectra.append((s, sv, effective_dimension(sv)))
        written.append(explain_plots.svd_figure(f"{base}_svd{ext}", backend, spectra, side))
    except (FileNotFoundError, ValueError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    for s, sv, d in spectra:
        print(f"sigma {s:g}: effective dimension {d:.1f} of {sv.size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
