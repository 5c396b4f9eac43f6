"""int8 files: the calibration set, residual-stream equalization and the conversion.

int8 takes each tensor's scale from its peak over a calibration set of noisy training crops;
a bias-free network's inner activations grow with the noise, so the set's top noise level
trades low-noise precision against high-noise saturation (CALIBRATION_SIGMA_SHARE).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from bfcnn.config import COLOR_MODES, PipelineConfig, resolve_path
from bfcnn.trainer import dead_levels, equalize
from bfcnn.trainer.data.dataset import list_images, read_image
from bfcnn.trainer.tflite_convert import ExportError, convert, numpy_pyramid

# int8 calibration noise tops out at this share of the training range's top sigma (45 for
# 0-75). int8 takes each tensor's scale from its calibration peak, and a bias-free net's inner
# activations grow with the noise, so sigma-75 peaks leave low-noise frames a few steps.
# resnet_5x5_bn_3x3 (mixed fine-tune), BSD68 first 20, int8 minus float, dB, at sigma
# 5 / 25 / 50 / 75: top 75: -1.29 / -0.36 / -0.18 / -0.08; top 45: -0.75 / -0.26 / -0.12 /
# -0.18; top 25: -0.54 / -0.17 / -0.37 / -3.1 (saturates). 45 wins everywhere but sigma 75.
CALIBRATION_SIGMA_SHARE = 0.6


def training_top(cfg: PipelineConfig) -> float:
    """The top additive-noise sigma of the training range, grey levels (25 when none)."""
    return max(cfg.dataset.additional_noise or [25.0])


def default_calibration_sigma(cfg: PipelineConfig) -> float:
    return CALIBRATION_SIGMA_SHARE * training_top(cfg)


def calibration_images(cfg: PipelineConfig, count: int = 16, size: int = 128,
                        max_sigma: Optional[float] = None) -> List[np.ndarray]:
    """Noisy crops (float32 [0,1], HxWxC) from the *training* set, sigma evenly spaced from 0
    to `max_sigma` (default: the top of the training range), each also inverted, plus an
    all-black and an all-white image: for int8 calibration and the dead-level probe."""
    channels = COLOR_MODES[cfg.dataset.color_mode]
    files = list_images([resolve_path(cfg, p) for p in cfg.dataset.directories])
    rng = np.random.default_rng(0)
    top = training_top(cfg) if max_sigma is None else max_sigma
    sigmas = np.linspace(0, top, count)
    out = []
    for i, path in enumerate(files[:: max(1, len(files) // count)][:count]):
        img = read_image(path, channels).astype(np.float32)
        h, w = min(size, img.shape[0]) // 8 * 8, min(size, img.shape[1]) // 8 * 8
        crop = img[:h, :w] + rng.normal(0, sigmas[i % count], (h, w, channels))
        noisy = np.clip(np.round(crop), 0, 255).astype(np.float32) / 255.0
        # the inverted image too: calibration must see bright and dark content alike, or the
        # uint8 output range stops short of 1.0 and highlights clip (measured: 22.4 dB vs 25.8)
        out.extend([noisy, (1.0 - noisy).astype(np.float32)])
    h, w = out[0].shape[:2]
    out.extend([np.zeros((h, w, channels), np.float32), np.ones((h, w, channels), np.float32)])
    return out


def convert_int8(built, cfg: PipelineConfig, calib: List[np.ndarray], calibration_sigma: float,
                  strength: Union[float, str]) -> Tuple[bytes, Dict]:
    """(flatbuffer, card notes): the int8 conversion of the core, calibrated on `calib` (noise
    up to `calibration_sigma`), with its residual streams equalized; weights restored after, so
    every other file is written from the trained weights as they are. `cfg`: the (possibly
    pruned) model's config."""
    model_cfg, levels = cfg.model, cfg.model.levels
    calib_pyramids = [numpy_pyramid(c, levels) for c in calib]
    notes: Dict = {"int8_calibration_sigma": float(calibration_sigma)}
    refuse_dead_levels(built, levels, calib_pyramids)
    why = "off (--equalize 0)" if strength == 0 else equalize.unsupported_reason(model_cfg)
    if why:
        notes["int8_equalization"] = {"applied": False, "why": why}
        return convert(built.core, levels, "int8", calib), notes
    saved = built.core.get_weights()
    try:
        scales = equalize.equalize(built.core, model_cfg, calib_pyramids, strength)
        notes["int8_equalization"] = {"applied": True, "strength": strength, "max_scale": scales}
        return convert(built.core, levels, "int8", calib), notes
    finally:
        built.core.set_weights(saved)


def refuse_dead_levels(built, levels: int, calib_pyramids) -> None:
    """A level whose output is 0 on every calibration pyramid gets a zero int8 range, and the
    TFLite interpreter then aborts the process (no exception): refuse it here instead."""
    dead = dead_levels.dead_level_outputs(built.core, range(levels), calib_pyramids)
    if dead:
        raise ExportError(f"level(s) {dead} output exactly 0 on every calibration image (dead ReLUs), "
                          f"which int8 cannot represent (TFLite aborts); export without int8, or "
                          f"retrain those levels (train.initial_weights_levels keeps the others)")
