"""Dead coarse pyramid levels, and their removal at export.

Seen in training (both realtime models, in an earlier version): every ReLU input of the top level's
last block was <= 0 on real images, so that level output exactly 0 and the next level's
correction input was 0 too. Float does not mind (wasted work), but int8 calibration then
gives those tensors a zero range and the TFLite interpreter aborts the whole process while
allocating them.

A top level whose network output is exactly 0 on every calibration image (noisy training
crops at sigma 0-75, their inverses, black and white) is removed, with the next level's
correction conv (its input is then 0 as well): the same outputs on all of those images with
one pyramid level fewer. It is a measured statement, not a proof (a bias-free ReLU network
can fire on an input unlike all of them), so export also compares the pruned model with the
original on its check image and records the pruning in the card.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Sequence

import keras
import numpy as np

from bfcnn.config import ModelConfig
from bfcnn.trainer.equalize import channel_peaks


def top_level_is_dead(core: keras.Model, cfg: ModelConfig, pyramids: Sequence[List[np.ndarray]]) -> bool:
    """True if the top level's network outputs exactly 0 on every pyramid in `pyramids`
    (each a list of [1, h_k, w_k, C] float32 arrays in [0, 1], level 0 first)."""
    if cfg.levels < 2:
        return False
    return bool(dead_level_outputs(core, [cfg.levels - 1], pyramids))


def dead_level_outputs(core: keras.Model, levels: Sequence[int], pyramids: Sequence[List[np.ndarray]]) -> List[int]:
    """The pyramid levels among `levels` whose network output is exactly 0 on every pyramid in
    `pyramids` (such a level gets a zero int8 range)."""
    outs = [core.get_layer(f"level{k}_out").output for k in levels]
    return [k for k, peak in zip(levels, channel_peaks(core, outs, pyramids)) if peak.max() == 0.0]


def _drop_top(cfg: ModelConfig) -> ModelConfig:
    def cut(value):
        return value if isinstance(value, int) else list(value)[:-1]
    return dataclasses.replace(cfg, levels=cfg.levels - 1, filters=cut(cfg.filters),
                               no_layers=cut(cfg.no_layers))


def prune_dead_levels(built, cfg: ModelConfig, pyramids: Sequence[List[np.ndarray]],
                      regularization: float = 0.0):
    """(built model, model config, record) with every dead top level removed; the inputs
    unchanged when none is. record: {} or {"levels": [from, to], "why": ...}."""
    from bfcnn.trainer.models import multiscale
    start = cfg.levels
    while top_level_is_dead(built.core, cfg, [p[:cfg.levels] for p in pyramids]):
        smaller = _drop_top(cfg)
        pruned = multiscale.build(smaller, regularization)
        weights: Dict[str, List[np.ndarray]] = {l.name: l.get_weights() for l in built.core.layers if l.weights}
        for layer in pruned.core.layers:
            if layer.weights:
                layer.set_weights(weights[layer.name])
        built, cfg = pruned, smaller
    if cfg.levels == start:
        return built, cfg, {}
    return built, cfg, {"levels": [start, cfg.levels],
                        "why": f"the top level's network output exactly 0 on all {len(pyramids)} "
                               f"calibration images (dead ReLUs); removed with the next level's "
                               f"correction input"}
