"""Value checks of a pipeline config that need more than a type: choices, ranges and
consistency between sections. Each error names the dotted key and the fix."""
from __future__ import annotations

import re

import dataclasses
import difflib
import math
from typing import TYPE_CHECKING, Dict, Optional, Sequence, Tuple

if TYPE_CHECKING:   # type hints only: config.py imports this module, never the other way round
    from bfcnn.config import PipelineConfig


class ConfigError(ValueError):
    """A pipeline config key or value is wrong; the message names the dotted path and the fix."""


PRUNE_STRATEGIES = ("none", "minimum_threshold", "minimum_threshold_bifurcate",
                    "minimum_threshold_shrinkage")
COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}
ACTIVATIONS = ("relu", "linear", "leaky_relu")
FINAL_ACTIVATIONS = ("linear", "tanh", "sigmoid", "hard_sigmoid")
REGULARIZERS = ("none", "l1", "l2", "l1_l2")
NOISE_SAMPLING = ("choice", "uniform", "log_uniform", "mixed")
DEMOSAIC_METHODS = ("bilinear", "edge_aware", "vng")
DISTRIBUTE = ("none", "mirrored", "multi_worker_mirrored")


def _choice(path: str, value: str, options: Sequence[str]) -> None:
    if value not in options:
        close = difflib.get_close_matches(value, list(options), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"{path}: {value!r} is not valid.{hint} Valid options: {', '.join(options)}")


def _positive(path: str, value: float, allow_zero: bool = False) -> None:
    if not math.isfinite(value):
        raise ConfigError(f"{path}: must be a finite number, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{path}: must be {'>= 0' if allow_zero else '> 0'}, got {value}")


def validate(cfg: "PipelineConfig", model_types: Sequence[str],
             own_parameters: Optional[Dict[str, Tuple[str, ...]]] = None) -> None:
    """Value checks that need more than a type: choices, ranges, consistency between sections.
    own_parameters: {model type: model keys only it reads} (bfcnn.model_types)."""
    m, t, d = cfg.model, cfg.train, cfg.dataset
    _choice("model.type", m.type, model_types)
    _own_parameters(m, own_parameters or {})
    _choice("model.activation", m.activation, ACTIVATIONS)
    _choice("model.final_activation", m.final_activation, FINAL_ACTIVATIONS)
    _choice("model.kernel_regularizer", m.kernel_regularizer, REGULARIZERS)
    _choice("train.prune.strategy", t.prune.strategy.lower(), PRUNE_STRATEGIES)
    _choice("train.distribute", t.distribute, DISTRIBUTE)
    _choice("dataset.color_mode", d.color_mode, tuple(COLOR_MODES))
    _choice("dataset.noise_sampling", d.noise_sampling, NOISE_SAMPLING)
    if not 0.0 <= d.gray_fraction <= 1.0:
        raise ConfigError(f"dataset.gray_fraction: must be between 0 and 1, got {d.gray_fraction}")
    if d.gray_fraction > 0 and d.color_mode != "rgb":
        raise ConfigError(f"dataset.gray_fraction: only for color_mode 'rgb' (gray frames reaching a "
                          f"colour model), got color_mode {d.color_mode!r}; set it to 0")
    if not 0.0 <= d.pixel_shuffle_fraction <= 1.0:
        raise ConfigError(f"dataset.pixel_shuffle_fraction: must be between 0 and 1, got {d.pixel_shuffle_fraction}")
    if d.pixel_shuffle_fraction > 0 and d.camera_noise.fraction <= 0:
        raise ConfigError("dataset.pixel_shuffle_fraction: a share of the camera-noise crops, and "
                          "dataset.camera_noise.fraction is 0; set camera_noise.fraction > 0 or this to 0")
    if not 1 <= m.levels <= 8:
        raise ConfigError(f"model.levels: must be between 1 and 8, got {m.levels}")
    for name in ("filters", "no_layers"):
        value = getattr(m, name)
        if isinstance(value, list) and len(value) != m.levels:
            raise ConfigError(f"model.{name}: a list needs one value per level "
                              f"(model.levels = {m.levels}), got {len(value)} values")
        for v in ([value] if isinstance(value, int) else value):
            _positive(f"model.{name}", v, allow_zero=(name == "no_layers"))
    if m.kernel_size < 1 or m.kernel_size % 2 == 0:
        raise ConfigError(f"model.kernel_size: must be an odd number >= 1, got {m.kernel_size}")
    if len(m.input_shape) != 3 or m.input_shape[-1] not in (1, 3, 4):
        raise ConfigError("model.input_shape: expected [height, width, channels] with channels "
                          f"1, 3 or 4 (height/width may be \"?\"), got {m.input_shape}")
    if m.max_value <= m.min_value:
        raise ConfigError(f"model.max_value: must exceed model.min_value ({m.min_value}), got {m.max_value}")
    for i, level in enumerate(t.initial_weights_levels):
        if not 0 <= level < m.levels:
            raise ConfigError(f"train.initial_weights_levels[{i}]: level {level} does not exist "
                              f"(model.levels = {m.levels}: levels 0..{m.levels - 1})")
    if t.initial_weights_levels and not t.initial_weights:
        raise ConfigError("train.initial_weights_levels: set train.initial_weights too (where to load from)")
    if t.initial_weights_widen and not t.initial_weights:
        raise ConfigError("train.initial_weights_widen: set train.initial_weights too (the model to widen)")
    if t.initial_weights_sha256 and not t.initial_weights:
        raise ConfigError("train.initial_weights_sha256: set train.initial_weights too (the file it pins)")
    if t.initial_weights_sha256 and not re.fullmatch(r"[0-9a-f]{64}", t.initial_weights_sha256):
        raise ConfigError(f"train.initial_weights_sha256: 64 lowercase hex digits (sha256sum of the float "
                          f".tflite), got {t.initial_weights_sha256!r}")
    if m.space_to_depth not in (1, 2, 4) or m.space_to_depth > 2 ** (m.levels - 1):
        raise ConfigError(f"model.space_to_depth: must be 1 (off), 2 or 4 and at most the pyramid "
                          f"stride 2**(levels-1) = {2 ** (m.levels - 1)}, got {m.space_to_depth}")
    if not 0.0 <= m.sparsity < 1.0:
        raise ConfigError(f"model.sparsity: must be in [0, 1), got {m.sparsity}")
    if COLOR_MODES[d.color_mode] != m.channels:
        raise ConfigError(f"dataset.color_mode: {d.color_mode!r} gives {COLOR_MODES[d.color_mode]} "
                          f"channels but model.input_shape has {m.channels}; make them agree")
    if len(d.input_shape) != 3 or d.input_shape[-1] != m.channels:
        raise ConfigError(f"dataset.input_shape: expected [height, width, {m.channels}], got {d.input_shape}")
    stride = 2 ** (m.levels - 1)
    if d.input_shape[0] % stride or d.input_shape[1] % stride:
        raise ConfigError(f"dataset.input_shape: height and width must be multiples of "
                          f"2**(levels-1) = {stride}, got {d.input_shape[:2]}")
    _positive("dataset.batch_size", d.batch_size)
    if not 0.0 <= d.flat_fraction < 1.0:
        raise ConfigError(f"dataset.flat_fraction: must be in [0, 1), got {d.flat_fraction}")
    _positive("train.checkpoint_every", t.checkpoint_every)
    _positive("train.checkpoints_to_keep", t.checkpoints_to_keep)
    _positive("train.optimizer.learning_rate", t.optimizer.learning_rate)
    for name in ("mae_multiplier", "mse_multiplier", "log_mse_multiplier", "level_multiplier",
                 "range_multiplier"):
        _positive(f"loss.{name}", getattr(cfg.loss, name), allow_zero=True)
    if not (cfg.loss.mae_multiplier or cfg.loss.mse_multiplier or cfg.loss.log_mse_multiplier):
        raise ConfigError("loss: mae_multiplier, mse_multiplier and log_mse_multiplier are all 0, "
                          "so nothing trains the output; set at least one > 0")
    if cfg.loss.range_multiplier > 0 and cfg.loss.range_limit <= 0:
        raise ConfigError(f"loss.range_limit: must be > 0 (|activations| beyond it are penalized, "
                          f"in [0, 1]-image units; 4 is a good start), got {cfg.loss.range_limit}")
    if cfg.loss.level_multiplier > 0 and m.levels < 2:
        raise ConfigError("loss.level_multiplier: supervises the coarse pyramid levels, but "
                          "model.levels = 1; set model.levels >= 2 or level_multiplier to 0")
    _camera_noise(d.camera_noise, d.input_shape)
    if m.noise_input and list(t.iterations_choice) != [1]:
        raise ConfigError(f"train.iterations_choice: a noise-conditioned model (model.noise_input) "
                          f"trains on one pass (a second pass would need the first output's noise "
                          f"map); set [1], got {t.iterations_choice}")
    _not_implemented(cfg)
    if not d.additional_noise and not d.multiplicative_noise and d.subsample_size <= 0:
        raise ConfigError("dataset.additional_noise: no noise of any kind is configured; "
                          "set additional_noise, multiplicative_noise or subsample_size")
    for i, s in enumerate(d.additional_noise):
        _positive(f"dataset.additional_noise[{i}]", s, allow_zero=True)
    if t.epochs < 1 and t.total_steps < 1:
        raise ConfigError("train.total_steps: set train.epochs >= 1 or train.total_steps >= 1")


def _camera_noise(c, input_shape) -> None:
    """dataset.camera_noise: shares in [0, 1], ordered positive ranges, known demosaic methods."""
    p = "dataset.camera_noise"
    for name in ("fraction", "jpeg_fraction", "tone_curve_fraction", "isp_denoise_fraction",
                 "chroma_denoise_fraction", "mono_fraction"):
        if not 0.0 <= getattr(c, name) <= 1.0:
            raise ConfigError(f"{p}.{name}: a share, must be between 0 and 1, got {getattr(c, name)}")
    if len(c.shot_noise) != 2 or not 0 < c.shot_noise[0] <= c.shot_noise[1] <= 1:
        raise ConfigError(f"{p}.shot_noise: expected [min, max] with 0 < min <= max <= 1 (shot-noise "
                          f"gain in white-level units: ~2e-5 for a DSLR at ISO 100, ~1e-2 for a "
                          f"phone at ISO 6400), got {c.shot_noise}")
    if len(c.jpeg_quality) != 2 or not 1 <= c.jpeg_quality[0] <= c.jpeg_quality[1] <= 100:
        raise ConfigError(f"{p}.jpeg_quality: expected [min, max] with 1 <= min <= max <= 100, "
                          f"got {c.jpeg_quality}")
    if len(c.chroma_denoise_sigma) != 2 or not 0 < c.chroma_denoise_sigma[0] <= c.chroma_denoise_sigma[1] <= 16:
        raise ConfigError(f"{p}.chroma_denoise_sigma: expected [min, max] pixels with "
                          f"0 < min <= max <= 16, got {c.chroma_denoise_sigma}")
    _positive(f"{p}.row_noise", c.row_noise, allow_zero=True)
    if not c.demosaic:
        raise ConfigError(f"{p}.demosaic: name at least one of {', '.join(DEMOSAIC_METHODS)}")
    for i, method in enumerate(c.demosaic):
        _choice(f"{p}.demosaic[{i}]", method, DEMOSAIC_METHODS)
    if c.fraction > 0 and (input_shape[0] % 2 or input_shape[1] % 2):
        raise ConfigError(f"dataset.input_shape: camera noise needs even crop sides (a whole Bayer "
                          f"mosaic), got {input_shape[:2]}")


def _own_parameters(m, own: Dict[str, Tuple[str, ...]]) -> None:
    """A key one backbone reads (e.g. sparsity) set for another type would be ignored: refuse it."""
    defaults = {f.name: f.default for f in dataclasses.fields(m)}
    for key in sorted({k for keys in own.values() for k in keys} - set(own.get(m.type, ()))):
        if getattr(m, key) != defaults[key]:
            readers = sorted(n for n, keys in own.items() if key in keys)
            raise ConfigError(f"model.{key}: read only by model type {' / '.join(readers)}, but model.type "
                              f"is {m.type!r}; remove it, or set model.type to {readers[0]!r}")


# keys of the original bfcnn configs that this trainer accepts (old configs load) but does not
# implement: only their default value is allowed, so a config never silently means more than it does
_NOT_IMPLEMENTED = (
    ("model", "shared_model", False, "one network shared by all pyramid levels"),
    ("model", "local_normalization", -1, "local mean subtraction (it would also break bias-freedom)"),
    ("train", "random_batch_min_difference", 0.1, "a stopping threshold for the random-batch probe"),
    ("dataset", "crops_per_image", 8, "several crops per decoded image (every batch draws fresh crops)"),
    ("dataset", "cache_decoded", True, "turning the decoded-image cache off (images are always kept decoded)"),
)


def _not_implemented(cfg) -> None:
    for section, key, default, what in _NOT_IMPLEMENTED:
        value = getattr(getattr(cfg, section), key)
        if value != default:
            raise ConfigError(f"{section}.{key}: {what} is not implemented in this trainer; remove the "
                              f"key or leave it at {json_value(default)} (accepted so original bfcnn "
                              f"configs load), got {json_value(value)}")


def json_value(v) -> str:
    return "true" if v is True else "false" if v is False else repr(v)
