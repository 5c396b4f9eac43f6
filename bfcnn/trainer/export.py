"""Export a trained checkpoint: saved_model, TFLite (float32 / float16 / dynamic / int8), card.json.

The TFLite graph is the multi-scale *core*: inputs level_0 ... level_{L-1} (the Gaussian
pyramid of the image scaled to [0, 1], built at run time by the C++ op), output the
denoised image [1, H, W, C] in [0, 1]. int8 files take and return uint8 (scale ~1/255).
Only builtin TFLite ops are allowed: a graph that would need Select-TF ("Flex") ops is
refused, because plain LiteRT on a Pi cannot run it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
from typing import Dict, List, Optional, Sequence, Union

import cv2
import numpy as np
import tensorflow as tf

from bfcnn.runtime.files import atomic_write_bytes
from bfcnn.zoo import ModelCard, card_bytes
from bfcnn.config import COLOR_MODES, PipelineConfig, parse_pipeline, resolve_path, to_dict
from bfcnn.trainer.data.dataset import list_images, read_image
from bfcnn.trainer import dead_levels, equalize
from bfcnn.trainer.models import multiscale
from bfcnn.trainer.checkpoints import CheckpointMismatch, build_checkpoint, restore_latest

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
FILE_NAMES = {"none": "model.tflite", "float16": "model_float16.tflite",
              "dynamic": "model_dynamic.tflite", "int8": "model_int8.tflite"}


class ExportError(RuntimeError):
    """Export could not produce a file the light runtimes can run; the message says why."""


def numpy_pyramid(img: np.ndarray, levels: int) -> List[np.ndarray]:
    """[H, W, C] float32 -> list of [1, h_k, w_k, C] float32 (cv2.pyrDown, reflect-101)."""
    out = [img]
    for _ in range(1, levels):
        out.append(cv2.pyrDown(out[-1]).reshape((out[-1].shape[0] + 1) // 2, (out[-1].shape[1] + 1) // 2, -1))
    return [lvl[None].astype(np.float32) for lvl in out]


# int8 calibration noise tops out at this share of the training range's top sigma (45 for
# 0-75). int8 takes each tensor's scale from its calibration peak, and a bias-free net's inner
# activations grow with the noise, so sigma-75 peaks leave low-noise frames a few steps.
# resnet_5x5_bn_3x3 (mixed fine-tune), BSD68 first 20, int8 minus float, dB, at sigma
# 5 / 25 / 50 / 75: top 75: -1.29 / -0.36 / -0.18 / -0.08; top 45: -0.75 / -0.26 / -0.12 /
# -0.18; top 25: -0.54 / -0.17 / -0.37 / -3.1 (saturates). 45 wins everywhere but sigma 75.
CALIBRATION_SIGMA_SHARE = 0.6


def _training_top(cfg: PipelineConfig) -> float:
    """The top additive-noise sigma of the training range, grey levels (25 when none)."""
    return max(cfg.dataset.additional_noise or [25.0])


def default_calibration_sigma(cfg: PipelineConfig) -> float:
    return CALIBRATION_SIGMA_SHARE * _training_top(cfg)


def _calibration_images(cfg: PipelineConfig, count: int = 16, size: int = 128,
                        max_sigma: Optional[float] = None) -> List[np.ndarray]:
    """Noisy crops (float32 [0,1], HxWxC) from the *training* set, sigma evenly spaced from 0
    to `max_sigma` (default: the top of the training range), each also inverted, plus an
    all-black and an all-white image: for int8 calibration and the dead-level probe."""
    channels = COLOR_MODES[cfg.dataset.color_mode]
    files = list_images([resolve_path(cfg, p) for p in cfg.dataset.directories])
    rng = np.random.default_rng(0)
    top = _training_top(cfg) if max_sigma is None else max_sigma
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


def convert(core: tf.keras.Model, levels: int, quantization: str, calib: Sequence[np.ndarray]) -> bytes:
    """One TFLite flatbuffer of `core`, builtin ops only. Raises ExportError on Flex ops."""
    converter = tf.lite.TFLiteConverter.from_keras_model(core)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantization == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8

        def representative():
            for img in calib:
                pyr = numpy_pyramid(img, levels)
                yield {f"level_{k}": lvl for k, lvl in enumerate(pyr)}
        converter.representative_dataset = representative
    try:
        return converter.convert()
    except Exception as exc:  # the converter raises several types; name the cause and stop
        text = str(exc)
        why = (" (a layer needs Select-TF / Flex ops, which plain LiteRT on a Pi cannot run; "
               "use builtin-op layers only)") if any(k in text.lower() for k in ("flex", "select", "custom op", "not supported")) else ""
        raise ExportError(f"TFLite conversion ({quantization}) failed{why}: {text[-600:]}") from exc


def check_builtin_only(flatbuffer: bytes) -> None:
    """Refuse a flatbuffer that contains custom or Flex ops (belt and braces after convert)."""
    from tensorflow.lite.python import schema_py_generated as schema
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    bad = [op.customCode.decode() if isinstance(op.customCode, bytes) else str(op.customCode)
           for op in model.operatorCodes if op.customCode]
    if bad:
        raise ExportError(f"exported graph uses non-builtin ops {bad}; remove the layers that need them")


def run_tflite(flatbuffer: bytes, pyramid: List[np.ndarray]) -> np.ndarray:
    """Run a flatbuffer on pyramid levels ([1,h,w,C] float32 in [0,1]) with the runtime's own
    core model (LiteRT, as users run it); returns float32 [1,H,W,C] in [0,1]."""
    from bfcnn.runtime.core_model import CoreModel
    return CoreModel(flatbuffer, num_threads=2).run_batch(pyramid).astype(np.float32)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    a8 = np.clip(np.round(a * 255.0), 0, 255)
    mse = float(np.mean((a8 - np.round(b * 255.0)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _restore(cfg: PipelineConfig, checkpoint_dir: Optional[str], weights_from: Optional[str]):
    """(built model, training steps, source-model record) from a checkpoint or a float TFLite."""
    if weights_from:
        from bfcnn.trainer import tflite_weights
        built = multiscale.build(cfg.model, cfg.loss.regularization)
        path = tflite_weights.locate(weights_from, os.getcwd())
        try:
            tflite_weights.load_into(built.core, path)
        except tflite_weights.WeightImportError as exc:
            raise ExportError(str(exc)) from exc
        before = _card_beside(path)   # the history stays the source model's own
        history = (before.fine_tuned_from if before else {}) or _recipe_beside(path)
        return built, before.training_steps if before else 0, history
    built, _, step_var, ckpt, manager = build_checkpoint(cfg, checkpoint_dir)
    if not manager.latest_checkpoint:
        raise ExportError(f"no checkpoint in {os.path.join(checkpoint_dir, 'checkpoints')}; "
                          f"train first with python -m bfcnn.train --model-directory {checkpoint_dir}")
    try:
        restore_latest(ckpt, manager)
    except CheckpointMismatch as exc:
        raise ExportError(str(exc)) from exc
    return built, int(step_var.numpy()), _source_model(cfg)


def export(cfg: PipelineConfig, checkpoint_dir: Optional[str], output_dir: str, name: str,
           quantizations: Sequence[str] = ("none",), to_tflite: bool = True,
           check_image: str = "", sigma: float = 25.0, weights_from: Optional[str] = None,
           equalization: Union[float, str] = "auto",
           calibration_sigma: Optional[float] = None) -> Dict:
    """Export the latest checkpoint in `checkpoint_dir` (or the weights of the float TFLite
    `weights_from`); returns the card (also written). `equalization` ("auto", or 0-1 with 0 =
    off) rescales the residual streams before the int8 conversion only (trainer/equalize.py).
    `calibration_sigma`: the int8 calibration images' top noise sigma (grey levels; default
    CALIBRATION_SIGMA_SHARE x the training top); noisier frames may saturate int8 tensors."""
    for q in quantizations:
        if q not in QUANTIZATIONS:
            raise ExportError(f"--quantization {q!r} is not valid; choose from {', '.join(QUANTIZATIONS)}")
        if q == "int8" and cfg.model.temporal:
            raise ExportError("--quantization int8: not implemented for temporal models (the past's "
                              "input needs its own calibration); export none, float16 or dynamic")
    if calibration_sigma is None:
        calibration_sigma = default_calibration_sigma(cfg)
    if not calibration_sigma > 0:
        raise ExportError(f"--calibration-sigma must be > 0 (grey levels; default "
                          f"{default_calibration_sigma(cfg):g} for this config), got {calibration_sigma}")
    built, steps, source = _restore(cfg, checkpoint_dir, weights_from)
    unpruned, unpruned_cfg = built, cfg
    calib = _calibration_images(cfg)
    calib_pyramids = [numpy_pyramid(c, cfg.model.levels) for c in calib]   # pruning keeps a prefix
    built, model_cfg, pruned = (built, cfg.model, None) if cfg.model.temporal else \
        dead_levels.prune_dead_levels(built, cfg.model, calib_pyramids, cfg.loss.regularization)
    if pruned:
        print(f"note: levels {pruned['levels'][0]} -> {pruned['levels'][1]}: {pruned['why']}", file=sys.stderr)
        cfg = dataclasses.replace(cfg, model=model_cfg)
    os.makedirs(output_dir, exist_ok=True)
    t0 = time.time()
    saved = os.path.join(output_dir, "saved_model")
    tmp_saved = saved + ".tmp"
    shutil.rmtree(tmp_saved, ignore_errors=True)
    built.core.export(tmp_saved, format="tf_saved_model", verbose=False)
    shutil.rmtree(saved, ignore_errors=True)
    os.replace(tmp_saved, saved)
    timings = {"saved_model_s": round(time.time() - t0, 2)}

    levels, channels = cfg.model.levels, cfg.model.channels
    clean = _check_image(unpruned_cfg, check_image)   # cropped to the unpruned model's stride
    rng = np.random.default_rng(0)
    noisy = np.clip(np.round(clean * 255 + rng.normal(0, sigma, clean.shape)), 0, 255) / 255.0
    noisy = noisy.astype(np.float32)
    pyr = numpy_pyramid(noisy, levels)
    if cfg.model.temporal:   # a past near the frame (a blurred clean image), so the blend counts
        past = cv2.GaussianBlur(clean.astype(np.float32), (0, 0), 1.0).reshape(clean.shape)
        pyr = pyr + numpy_pyramid(past, levels)
    keras_out = np.asarray(built.core(pyr))
    if pruned:
        before = np.asarray(unpruned.core(numpy_pyramid(noisy, pruned["levels"][0])))
        diff = float(np.max(np.abs(before - keras_out)))
        if diff > 1e-5:
            raise ExportError(f"internal check failed: removing the dead top level changed the "
                              f"output by {diff:.2e} (please report this with the checkpoint)")
    report = {"keras": {"psnr_vs_clean": _psnr(keras_out[0], clean), "psnr_noisy": _psnr(noisy, clean)}}
    files, notes = {}, {}
    if to_tflite:
        for q in quantizations:
            t0 = time.time()
            flat = _convert_int8(built, cfg, calibration_sigma, equalization, notes) \
                if q == "int8" else convert(built.core, levels, q, ())   # calibration is int8 only
            check_builtin_only(flat)
            timings[f"{q}_s"] = round(time.time() - t0, 2)
            out = run_tflite(flat, pyr)
            if not np.all(np.isfinite(out)):
                raise ExportError(f"{q} TFLite output is not finite: the conversion lost the weights")
            report[q] = {"psnr_vs_float": _psnr(out[0], keras_out[0]),
                         "psnr_vs_clean": _psnr(out[0], clean),
                         "max_abs_diff_vs_keras": float(np.max(np.abs(out - keras_out)))}
            gap = report["keras"]["psnr_vs_clean"] - report[q]["psnr_vs_clean"]
            if gap > 0.3:
                # seen on the batch-norm original-name models (13-17 dB): their coarse levels left
                # [0, 1], so int8 tensors spanned +-30; loss.level_multiplier fixes that, and
                # benchmarks/int8_layers.py shows where a file loses
                print(f"warning: {q} loses {gap:.2f} dB to float on the check image; do not ship "
                      f"this file (see the card's export_check)", file=sys.stderr)
            atomic_write_bytes(os.path.join(output_dir, FILE_NAMES[q]), flat)
            files[q] = {"file": FILE_NAMES[q], "sha256": sha256(flat), "bytes": len(flat)}
    noise = cfg.dataset.additional_noise
    card = {
        "name": name, "type": cfg.model.type, "channels": channels,
        "channel_order": "BGR" if channels >= 3 else "gray",
        "value_range": [cfg.model.min_value, cfg.model.max_value],
        "levels": levels, "halo": built.halo, "stride": 2 ** (levels - 1),
        "bias_free": built.bias_free, "macs_per_pixel": built.macs_per_pixel,
        **({"temporal": True, "training_video": dataclasses.asdict(cfg.video)} if cfg.model.temporal else {}),
        "parameters": int(built.core.count_params()),
        "training_noise": {"additive_sigma": [min(noise), max(noise)] if noise else [],
                           "sampling": cfg.dataset.noise_sampling,
                           "multiplicative": cfg.dataset.multiplicative_noise,
                           "subsample_size": cfg.dataset.subsample_size,
                           **({"camera_noise": dataclasses.asdict(cfg.dataset.camera_noise)}
                              if cfg.dataset.camera_noise.fraction > 0 else {})},
        # the model section of the config: rebuilds the network from the card alone (fine-tune
        # a shipped model with train.initial_weights and no model section)
        "architecture": to_dict(cfg)["model"],
        "training_steps": steps,
        "fine_tuned_from": source,
        "quantization": files, "export_check": {"sigma": sigma, **report}, **notes,
        **({"pruned_levels": pruned} if pruned else {}),
        "export_seconds": timings,
    }
    atomic_write_bytes(os.path.join(output_dir, "card.json"), card_bytes(card))
    atomic_write_bytes(os.path.join(output_dir, "pipeline.json"), json.dumps(to_dict(cfg), indent=2).encode())
    return card


def _convert_int8(built, cfg: PipelineConfig, calibration_sigma: float, strength: Union[float, str],
                  notes: Dict) -> bytes:
    """int8 conversion of the core, calibrated on noise up to `calibration_sigma`, with its
    residual streams equalized; weights restored after, so every other file is written from the
    trained weights as they are. `cfg`: the (possibly pruned) model's config."""
    model_cfg, levels = cfg.model, cfg.model.levels
    calib = _calibration_images(cfg, max_sigma=calibration_sigma)
    calib_pyramids = [numpy_pyramid(c, levels) for c in calib]
    notes["int8_calibration_sigma"] = float(calibration_sigma)
    _refuse_dead_levels(built, levels, calib_pyramids)
    why = "off (--equalize 0)" if strength == 0 else equalize.unsupported_reason(model_cfg)
    if why:
        notes["int8_equalization"] = {"applied": False, "why": why}
        return convert(built.core, levels, "int8", calib)
    saved = built.core.get_weights()
    try:
        scales = equalize.equalize(built.core, model_cfg, calib_pyramids, strength)
        notes["int8_equalization"] = {"applied": True, "strength": strength, "max_scale": scales}
        return convert(built.core, levels, "int8", calib)
    finally:
        built.core.set_weights(saved)


def _refuse_dead_levels(built, levels: int, calib_pyramids) -> None:
    """A level whose output is 0 on every calibration pyramid gets a zero int8 range, and the
    TFLite interpreter then aborts the process (no exception): refuse it here instead."""
    dead = dead_levels.dead_level_outputs(built.core, range(levels), calib_pyramids)
    if dead:
        raise ExportError(f"level(s) {dead} output exactly 0 on every calibration image (dead ReLUs), "
                          f"which int8 cannot represent (TFLite aborts); export without int8, or "
                          f"retrain those levels (train.initial_weights_levels keeps the others)")


def _source_model(cfg: PipelineConfig) -> Dict:
    """{} for a run from scratch; else what train.initial_weights named and how long that
    model had trained (its card's own history included), so a card states the whole recipe."""
    spec = cfg.train.initial_weights
    if not spec:
        return {}
    from bfcnn.trainer.tflite_weights import locate
    before = _card_beside(locate(spec, cfg.base_dir))
    source = {"initial_weights": spec}
    if before:
        source.update(name=before.name, training_steps=before.training_steps,
                      sha256=before.quantization.get("none", {}).get("sha256"))
        if before.fine_tuned_from:
            source["fine_tuned_from"] = before.fine_tuned_from
    return source


def _recipe_beside(tflite_path: str) -> Dict:
    """The source record of the pipeline.json beside an exported file ({} if none, or if that
    run started from scratch): for files exported before cards recorded it."""
    path = os.path.join(os.path.dirname(os.path.abspath(tflite_path)), "pipeline.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return _source_model(parse_pipeline(json.load(f), os.path.dirname(path)))


def _card_beside(tflite_path: str) -> Optional[ModelCard]:
    """The card next to a .tflite file, or None when there is none."""
    card_path = os.path.join(os.path.dirname(os.path.abspath(tflite_path)), "card.json")
    return ModelCard.from_file(card_path) if os.path.isfile(card_path) else None


def _check_image(cfg: PipelineConfig, path: str) -> np.ndarray:
    """Clean float32 [0,1] HxWxC image for the parity check, cropped to the pyramid stride."""
    channels = COLOR_MODES[cfg.dataset.color_mode]
    if not path:
        path = list_images([resolve_path(cfg, p) for p in cfg.dataset.directories])[0]
    img = read_image(path, channels)
    stride = 2 ** (cfg.model.levels - 1)
    h, w = min(img.shape[0], 256) // stride * stride, min(img.shape[1], 256) // stride * stride
    return img[:h, :w].astype(np.float32) / 255.0
