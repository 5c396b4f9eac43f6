"""Weight pruning strategies of the original bfcnn, applied every `prune.steps` steps.

- none
- minimum_threshold: weights with |w| < minimum_threshold become 0.
- minimum_threshold_bifurcate: as above, and whole output filters whose mean |w| falls
  below minimum_threshold become 0 (structured: the filter can be dropped at export).
- minimum_threshold_shrinkage: weights with |w| < shrinkage_threshold are multiplied by
  `shrinkage` (pulled towards 0 gradually), then minimum_threshold applies.
Pruning only rescales or zeroes weights, so it keeps the network bias-free.
"""
from __future__ import annotations

import numpy as np

from bfcnn.config import PruneConfig


def should_prune(cfg: PruneConfig, step: int, epoch: int) -> bool:
    return cfg.strategy.lower() != "none" and epoch >= cfg.start_epoch and step > 0 and step % cfg.steps == 0


def prune_kernel(w: np.ndarray, cfg: PruneConfig) -> np.ndarray:
    """Pruned copy of a conv kernel [kh, kw, c_in, c_out] float32."""
    strategy = cfg.strategy.lower()
    w = w.copy()
    if strategy == "minimum_threshold_shrinkage":
        small = np.abs(w) < cfg.shrinkage_threshold
        w[small] *= cfg.shrinkage
    w[np.abs(w) < cfg.minimum_threshold] = 0.0
    if strategy == "minimum_threshold_bifurcate":
        dead = np.mean(np.abs(w), axis=tuple(range(w.ndim - 1))) < cfg.minimum_threshold
        w[..., dead] = 0.0
    return w


def apply(model, cfg: PruneConfig) -> float:
    """Prune every conv kernel of `model` in place; returns the fraction of zero weights."""
    zeros = total = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        kernel = getattr(layer, "kernel", None)
        if kernel is None or len(kernel.shape) != 4 or not getattr(layer, "trainable", True):
            continue
        pruned = prune_kernel(np.asarray(kernel.numpy()), cfg)
        kernel.assign(pruned)
        zeros += int(np.sum(pruned == 0))
        total += pruned.size
    return zeros / max(total, 1)
