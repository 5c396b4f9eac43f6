"""Export a trained checkpoint: saved_model, TFLite (float32 / float16 / dynamic / int8), card.json.

export() runs named stages: check the request -> restore -> prune dead levels -> save the
saved_model -> reference output (Keras) -> convert and verify each TFLite file
(tflite_convert.py; int8 in int8.py) -> card. model.onnx is onnx_export.py's.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from bfcnn.runtime import noise, noise_maps
from bfcnn.runtime.files import atomic_write_bytes
from bfcnn.zoo import ModelCard, card_bytes
from bfcnn.config import COLOR_MODES, PipelineConfig, parse_pipeline, resolve_path, to_dict
from bfcnn.trainer.data.dataset import list_images, read_image
from bfcnn.trainer import dead_levels, int8
from bfcnn.trainer.tflite_convert import (FILE_NAMES, QUANTIZATIONS, ExportError, check_builtin_only,  # noqa: F401
                                          convert, numpy_pyramid, psnr_u8, run_tflite, sha256)
from bfcnn.trainer.models import multiscale
from bfcnn.trainer.checkpoints import CheckpointMismatch, build_checkpoint, restore_latest

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
           calibration_sigma: Optional[float] = None, recipe: str = "") -> Dict:
    """Export the latest checkpoint in `checkpoint_dir` (or the weights of the float TFLite
    `weights_from`); returns the card (also written). `equalization` ("auto", or 0-1 with 0 =
    off) rescales the residual streams before the int8 conversion only (trainer/equalize.py).
    `calibration_sigma`: the int8 calibration images' top noise sigma (grey levels; default
    int8.CALIBRATION_SIGMA_SHARE x the training top); noisier frames may saturate int8 tensors.
    `recipe`: the pipeline config's path as the card records it (bfcnn.export passes it
    relative to the working folder), so a card names the recipe that made it.

    Stages, in order: check the request -> restore -> prune dead levels -> save the
    saved_model -> reference output (Keras) -> convert and verify each TFLite file -> card."""
    calibration_sigma = _check_request(cfg, quantizations, calibration_sigma)
    built, steps, source = _restore(cfg, checkpoint_dir, weights_from)
    # one calibration set: the int8 converter's, which the dead-level probe also reads
    calib = int8.calibration_images(cfg, max_sigma=calibration_sigma)
    run = _prune(_Run(cfg, built, steps, source, calib), built, cfg)
    os.makedirs(output_dir, exist_ok=True)
    run.timings["saved_model_s"] = _save_saved_model(run.built, output_dir)
    _reference(run, check_image, sigma)
    if to_tflite:
        for q in quantizations:
            _convert_and_verify(run, q, output_dir, calibration_sigma, equalization)
    card = _card(run, name, sigma)
    if recipe:   # the config it was trained with, as its user named it (relative to where they ran)
        card["recipe"] = recipe
    atomic_write_bytes(os.path.join(output_dir, "card.json"), card_bytes(card))
    atomic_write_bytes(os.path.join(output_dir, "pipeline.json"), json.dumps(to_dict(run.cfg), indent=2).encode())
    return card


@dataclasses.dataclass
class _Run:
    """What the stages of one export hand each other."""
    unpruned_cfg: PipelineConfig
    unpruned: object
    steps: int
    source: Dict
    calib: List[np.ndarray]
    cfg: Optional[PipelineConfig] = None
    built: object = None
    pruned: Optional[Dict] = None
    pyr: List[np.ndarray] = dataclasses.field(default_factory=list)
    clean: Optional[np.ndarray] = None
    keras_out: Optional[np.ndarray] = None
    report: Dict = dataclasses.field(default_factory=dict)
    files: Dict = dataclasses.field(default_factory=dict)
    notes: Dict = dataclasses.field(default_factory=dict)
    timings: Dict = dataclasses.field(default_factory=dict)


def _check_request(cfg: PipelineConfig, quantizations: Sequence[str], calibration_sigma: Optional[float]) -> float:
    """The calibration sigma to use, after refusing what cannot be exported."""
    for q in quantizations:
        if q not in QUANTIZATIONS:
            raise ExportError(f"--quantization {q!r} is not valid; choose from {', '.join(QUANTIZATIONS)}")
        if q == "int8" and cfg.model.noise_input:
            raise ExportError("--quantization int8: not implemented for noise-conditioned models (the noise "
                              "maps' input needs its own calibration); export none, float16 or dynamic")
    if calibration_sigma is None:
        calibration_sigma = int8.default_calibration_sigma(cfg)
    if not calibration_sigma > 0:
        raise ExportError(f"--calibration-sigma must be > 0 (grey levels; default "
                          f"{int8.default_calibration_sigma(cfg):g} for this config), got {calibration_sigma}")
    return float(calibration_sigma)


def _prune(run: _Run, built, cfg: PipelineConfig) -> _Run:
    """Drop a top level whose network is dead on the calibration set (noise-conditioned models
    keep theirs: their noise maps are per level); run.cfg / run.built are the model that is
    exported."""
    run.cfg, run.built = cfg, built
    if cfg.model.noise_input:
        return run
    calib_pyramids = [numpy_pyramid(c, cfg.model.levels) for c in run.calib]   # pruning keeps a prefix
    run.built, model_cfg, run.pruned = dead_levels.prune_dead_levels(built, cfg.model, calib_pyramids,
                                                                     cfg.loss.regularization)
    if run.pruned:
        print(f"note: levels {run.pruned['levels'][0]} -> {run.pruned['levels'][1]}: {run.pruned['why']}",
              file=sys.stderr)
        run.cfg = dataclasses.replace(cfg, model=model_cfg)
    return run


def _save_saved_model(built, output_dir: str) -> float:
    """saved_model/ written beside the files (to a temporary name first); returns seconds."""
    t0 = time.time()
    saved = os.path.join(output_dir, "saved_model")
    tmp_saved = saved + ".tmp"
    shutil.rmtree(tmp_saved, ignore_errors=True)
    built.core.export(tmp_saved, format="tf_saved_model", verbose=False)
    shutil.rmtree(saved, ignore_errors=True)
    os.replace(tmp_saved, saved)
    return round(time.time() - t0, 2)


def _reference(run: _Run, check_image: str, sigma: float) -> None:
    """The check frame (a training image with noise `sigma`, and its noise maps for
    noise-conditioned models) and the Keras output every TFLite file is compared with; pruning
    must not change it."""
    levels = run.cfg.model.levels
    clean = _check_image(run.unpruned_cfg, check_image)   # cropped to the unpruned model's stride
    rng = np.random.default_rng(0)
    noisy = np.clip(np.round(clean * 255 + rng.normal(0, sigma, clean.shape)), 0, 255) / 255.0
    noisy = noisy.astype(np.float32)
    pyr = numpy_pyramid(noisy, levels)
    if run.cfg.model.noise_input:   # the maps of the check frame's own noise, as a profile gives them
        pyr = pyr + [m[None] for m in noise_maps.level_maps(noise.from_pair(noisy, clean), [p[0] for p in pyr])]
    keras_out = np.asarray(run.built.core(pyr))
    if run.pruned:
        before = np.asarray(run.unpruned.core(numpy_pyramid(noisy, run.pruned["levels"][0])))
        diff = float(np.max(np.abs(before - keras_out)))
        if diff > 1e-5:
            raise ExportError(f"internal check failed: removing the dead top level changed the "
                              f"output by {diff:.2e} (please report this with the checkpoint)")
    run.pyr, run.clean, run.keras_out = pyr, clean, keras_out
    run.report["keras"] = {"psnr_vs_clean": psnr_u8(keras_out[0], clean), "psnr_noisy": psnr_u8(noisy, clean)}


def _convert_and_verify(run: _Run, q: str, output_dir: str, calibration_sigma: float,
                        equalization: Union[float, str]) -> None:
    """One TFLite file: converted, builtin ops only, run on LiteRT against Keras, written."""
    t0 = time.time()
    if q == "int8":
        flat, notes = int8.convert_int8(run.built, run.cfg, run.calib, calibration_sigma, equalization)
        run.notes.update(notes)
    else:
        flat = convert(run.built.core, run.cfg.model.levels, q, ())   # calibration is int8 only
    check_builtin_only(flat)
    run.timings[f"{q}_s"] = round(time.time() - t0, 2)
    out = run_tflite(flat, run.pyr)
    if not np.all(np.isfinite(out)):
        raise ExportError(f"{q} TFLite output is not finite: the conversion lost the weights")
    run.report[q] = {"psnr_vs_float": psnr_u8(out[0], run.keras_out[0]),
                     "psnr_vs_clean": psnr_u8(out[0], run.clean),
                     "max_abs_diff_vs_keras": float(np.max(np.abs(out - run.keras_out)))}
    gap = run.report["keras"]["psnr_vs_clean"] - run.report[q]["psnr_vs_clean"]
    if gap > 0.3:
        # seen on the batch-norm original-name models (13-17 dB): their coarse levels left
        # [0, 1], so int8 tensors spanned +-30; loss.level_multiplier fixes that, and
        # benchmarks/int8_layers.py shows where a file loses
        print(f"warning: {q} loses {gap:.2f} dB to float on the check image; do not ship "
              f"this file (see the card's export_check)", file=sys.stderr)
    atomic_write_bytes(os.path.join(output_dir, FILE_NAMES[q]), flat)
    run.files[q] = {"file": FILE_NAMES[q], "sha256": sha256(flat), "bytes": len(flat)}


def _card(run: _Run, name: str, sigma: float) -> Dict:
    """card.json's content: what the model is, how it was trained, its files and their checks."""
    cfg, built = run.cfg, run.built
    noise = cfg.dataset.additional_noise
    return {
        "name": name, "type": cfg.model.type, "channels": cfg.model.channels,
        "channel_order": "BGR" if cfg.model.channels >= 3 else "gray",
        "value_range": [cfg.model.min_value, cfg.model.max_value],
        "levels": cfg.model.levels, "halo": built.halo, "stride": 2 ** (cfg.model.levels - 1),
        "bias_free": built.bias_free, "macs_per_pixel": built.macs_per_pixel,
        **({"noise_input": True} if cfg.model.noise_input else {}),
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
        "training_steps": run.steps,
        "fine_tuned_from": run.source,
        "quantization": run.files, "export_check": {"sigma": sigma, **run.report}, **run.notes,
        **({"pruned_levels": run.pruned} if run.pruned else {}),
        "export_seconds": run.timings,
    }


def _source_model(cfg: PipelineConfig) -> Dict:
    """{} for a run from scratch; else what train.initial_weights named and how long that
    model had trained (its card's own history included), so a card states the whole recipe."""
    spec = cfg.train.initial_weights
    if not spec:
        return {}
    from bfcnn.trainer.tflite_weights import locate
    before = _card_beside(locate(spec, cfg.base_dir))
    source = {"initial_weights": spec}
    pinned = cfg.train.initial_weights_sha256
    if pinned and (not before or before.quantization.get("none", {}).get("sha256") != pinned):
        # the run started from the pinned file (training checks it); what the name resolves to
        # now is another model, whose history is not this one's
        source["sha256"] = pinned
        return source
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
