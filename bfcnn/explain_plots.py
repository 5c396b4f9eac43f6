"""Figures of python -m bfcnn.explain (matplotlib, Agg backend, labelled axes)."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError("bfcnn.explain draws with matplotlib: pip install matplotlib") from exc

from bfcnn.runtime.adaptive_filter import AdaptiveFilter


def _show(ax, img: np.ndarray, title: str) -> None:
    img = np.clip(img, 0, 1)
    if img.shape[2] == 1:
        ax.imshow(img[:, :, 0], cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(img[:, :, ::-1])  # BGR -> RGB
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("x (pixels)", fontsize=7)
    ax.set_ylabel("y (pixels)", fontsize=7)
    ax.tick_params(labelsize=6)


def _filter(ax, f: AdaptiveFilter, title: str):
    m = f.heat_map()
    r = m.shape[0] // 2
    lim = max(1e-6, float(np.abs(m).max()))
    im = ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim, extent=(-r - .5, r + .5, r + .5, -r - .5))
    ax.plot(0, 0, "k+", markersize=6)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("dx (pixels)", fontsize=7)
    ax.set_ylabel("dy (pixels)", fontsize=7)
    ax.tick_params(labelsize=6)
    return im


def _spread(f: AdaptiveFilter) -> float:
    """Effective number of pixels averaged: 1 / sum(w^2) of the map."""
    return float(1.0 / max(1e-12, np.sum(np.square(f.heat_map()))))


def filters_figure(path: str, backend, clean: Optional[np.ndarray], noisy: np.ndarray, denoised: np.ndarray,
                   filters: Sequence[AdaptiveFilter], sigma: float) -> str:
    images = ([("clean", clean)] if clean is not None else []) + [
        (f"noisy (sigma {sigma:g})", noisy), ("denoised", denoised)]
    cols = max(len(images), len(filters))
    fig, axes = plt.subplots(2, cols, figsize=(3.2 * cols, 6.4), squeeze=False)
    for ax, (title, img) in zip(axes[0], images):
        _show(ax, img, title)
        for i, f in enumerate(filters):
            ax.plot(f.x, f.y, "o", mfc="none", mec="yellow", markersize=8)
            ax.annotate(str(i + 1), (f.x, f.y), color="yellow", fontsize=8, xytext=(4, -4), textcoords="offset points")
    for ax in axes[0][len(images):]:
        ax.axis("off")
    for i, (ax, f) in enumerate(zip(axes[1], filters)):
        im = _filter(ax, f, f"pixel {i + 1} ({f.x},{f.y}): sum {f.heat_map().sum():.2f}, ~{_spread(f):.0f} px")
        fig.colorbar(im, ax=ax, fraction=0.046, label="weight")
    for ax in axes[1][len(filters):]:
        ax.axis("off")
    fig.suptitle(f"{backend.name}: adaptive filters, f(y)[p] = sum_q w_pq y_q ({backend.method})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def sigmas_figure(path: str, backend, per_sigma: List[Tuple[float, AdaptiveFilter]]) -> str:
    fig, axes = plt.subplots(1, len(per_sigma), figsize=(3.0 * len(per_sigma), 3.4), squeeze=False)
    for ax, (s, f) in zip(axes[0], per_sigma):
        _filter(ax, f, f"sigma {s:g}: ~{_spread(f):.0f} px averaged")
    f0 = per_sigma[0][1]
    fig.suptitle(f"{backend.name}: filter of pixel ({f0.x},{f0.y}) at several noise levels", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def svd_figure(path: str, backend, spectra: List[Tuple[float, np.ndarray, float]], side: int) -> str:
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for s, sv, d in spectra:
        ax.plot(np.arange(1, sv.size + 1), sv, label=f"sigma {s:g}: effective dim {d:.0f}")
    ax.set_xlabel("index (sorted)")
    ax.set_ylabel("singular value of the Jacobian")
    ax.set_xscale("log")
    ax.set_title(f"{backend.name}: Jacobian on a {side}x{side} patch", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
