"""Typed, closed pipeline configuration (model / train / loss / dataset).

Pure Python (no TensorFlow): the runtime and the trainer both read it. Every
section is a frozen dataclass; :func:`load_pipeline` rejects unknown or
mistyped keys *before any work starts*, naming the dotted path of the bad key
and the closest valid name.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import os
import typing
from dataclasses import dataclass, field
from typing import Any, List, Union

from bfcnn.config_checks import (  # noqa: F401  (re-exported: choices and the error live with the checks)
    ACTIVATIONS, COLOR_MODES, DEMOSAIC_METHODS, DISTRIBUTE, FINAL_ACTIVATIONS, NOISE_SAMPLING,
    PRUNE_STRATEGIES, REGULARIZERS, ConfigError, validate)


@dataclass(frozen=True)
class ModelConfig:
    """`model` section. `filters` / `no_layers` may be one int or one int per pyramid level
    (level 0 = full resolution first), so most of the work can sit at low resolution."""
    type: str = "resnet"
    levels: int = 1
    filters: Union[int, List[int]] = 16
    no_layers: Union[int, List[int]] = 5
    kernel_size: int = 3
    min_value: float = 0.0
    max_value: float = 255.0
    batchnorm: bool = True
    stop_grads: bool = False
    activation: str = "relu"
    clip_values: bool = False
    local_normalization: int = -1
    output_multiplier: float = 1.0
    kernel_regularizer: str = "l1"
    final_activation: str = "linear"
    input_shape: List[Union[int, str]] = field(default_factory=lambda: ["?", "?", 1])
    kernel_initializer: str = "glorot_normal"
    use_bias: bool = False
    sparsity: float = 0.5
    shared_model: bool = False
    space_to_depth: int = 1
    noise_input: bool = False   # also takes the noise std at each pyramid level (noise_0 ...)

    @property
    def channels(self) -> int:
        return int(self.input_shape[-1])

    def per_level(self, name: str) -> List[int]:
        """`filters` or `no_layers` expanded to one value per level (level 0 first)."""
        value = getattr(self, name)
        if isinstance(value, int):
            return [value] * self.levels
        return list(value)


@dataclass(frozen=True)
class OptimizerConfig:
    learning_rate: float = 1e-3
    decay_rate: float = 0.9
    decay_steps: int = 50000
    gradient_clipping_by_norm: float = 1.0
    warmup_steps: int = 0


@dataclass(frozen=True)
class PruneConfig:
    strategy: str = "none"
    start_epoch: int = 0
    steps: int = 500
    minimum_threshold: float = 1e-4
    shrinkage: float = 0.75
    shrinkage_threshold: float = 1e-3


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 1
    total_steps: int = -1
    steps_per_epoch: int = 1000
    iterations_choice: List[int] = field(default_factory=lambda: [1])
    checkpoints_to_keep: int = 3
    checkpoint_every: int = 500
    visualization_number: int = 4
    visualization_every: int = 500
    random_batch_iterations: int = 5
    random_batch_size: List[int] = field(default_factory=lambda: [128, 128, 1])
    random_batch_min_difference: float = 0.1
    seed: int = 0
    jit_compile: bool = False
    distribute: str = "none"
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    initial_weights: str = ""
    initial_weights_levels: List[int] = field(default_factory=list)
    initial_weights_widen: bool = False   # levels wider than the initial model's: copy its channels
    initial_weights_sha256: str = ""      # the float file initial_weights must resolve to ("": any)


@dataclass(frozen=True)
class LossConfig:
    hinge: float = 0.0
    mae_multiplier: float = 1.0
    mse_multiplier: float = 0.0
    regularization: float = 0.0
    log_mse_multiplier: float = 0.0
    level_multiplier: float = 0.0
    range_multiplier: float = 0.0   # x mean over inner tensors of (peak |a| - range_limit)^2, if > 0
    range_limit: float = 4.0        # in [0, 1]-image units (the input's own range is 1)


@dataclass(frozen=True)
class CameraNoiseConfig:
    """`dataset.camera_noise`: a share of the crops get a camera's noise instead of the other
    kinds (bfcnn/trainer/data/camera_noise.py says how it is made). Off while fraction is 0."""
    fraction: float = 0.0                 # share of crops with camera noise, in [0, 1]
    shot_noise: List[float] = field(default_factory=lambda: [2e-5, 2e-2])   # [min, max] of a, log-uniform
    row_noise: float = 0.0                # max row-offset std as a multiple of the read-noise std
    jpeg_fraction: float = 0.5            # share of camera crops JPEG-compressed after the ISP
    jpeg_quality: List[int] = field(default_factory=lambda: [60, 98])      # [min, max], uniform
    demosaic: List[str] = field(default_factory=lambda: ["bilinear", "edge_aware", "vng"])
    tone_curve_fraction: float = 0.5      # share rendered with an S-curve on top of the sRGB gamma
    isp_denoise_fraction: float = 0.7     # share given the ISP's luma noise reduction
    chroma_denoise_fraction: float = 0.9  # colour: share given the ISP's chroma noise reduction
    chroma_denoise_sigma: List[float] = field(default_factory=lambda: [1.0, 4.0])  # its blur, px
    mono_fraction: float = 0.5            # gray models: share from a mono sensor (no mosaic), rest luma


@dataclass(frozen=True)
class DatasetConfig:
    directory: Union[str, List[str]] = "../shared/datasets/Train400"
    batch_size: int = 16
    min_value: float = 0.0
    max_value: float = 255.0
    clip_value: bool = True
    round_values: bool = True
    color_mode: str = "grayscale"
    random_blur: bool = False
    subsample_size: int = -1
    random_invert: bool = False
    random_rotate: float = 0.0
    flat_fraction: float = 0.0
    random_up_down: bool = True
    random_left_right: bool = True
    dataset_shape: List[int] = field(default_factory=lambda: [-1, -1])
    input_shape: List[int] = field(default_factory=lambda: [64, 64, 1])
    additional_noise: List[float] = field(default_factory=lambda: [5.0, 10.0, 20.0])
    noise_sampling: str = "choice"
    multiplicative_noise: List[float] = field(default_factory=list)
    gray_fraction: float = 0.0     # colour only: share of images turned gray, noise identical in all planes
    camera_noise: CameraNoiseConfig = field(default_factory=CameraNoiseConfig)
    pixel_shuffle_fraction: float = 0.0   # share of camera-noise crops taken as a stride-2 sub-image of one twice the size
    crops_per_image: int = 8
    cache_decoded: bool = True

    @property
    def directories(self) -> List[str]:
        return [self.directory] if isinstance(self.directory, str) else list(self.directory)


@dataclass(frozen=True)
class PipelineConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    base_dir: str = field(default=".", metadata={"internal": True})


# ---------------------------------------------------------------- parsing

def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Union:
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin in (list, List):
        (inner,) = typing.get_args(tp)
        return f"list of {_type_name(inner)}"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is Union:
        errors = []
        for option in typing.get_args(tp):
            try:
                return _coerce(value, option, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}")
    if origin in (list, List):
        (inner,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}")
        return [_coerce(v, inner, f"{path}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{path}: expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{path}: unsupported type {tp}")  # programming error surfaced clearly


def _build(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{path or '<root>'}: expected an object with keys "
                          f"{sorted(f.name for f in dataclasses.fields(cls))}, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    kwargs = {}
    for key, value in data.items():
        dotted = f"{path}.{key}" if path else key
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"{dotted}: unknown key.{hint} Valid keys: {', '.join(sorted(known))}")
        kwargs[key] = _coerce(value, hints[key], dotted)
    return cls(**kwargs)


def parse_pipeline(data: Any, base_dir: str = ".") -> PipelineConfig:
    """Build a :class:`PipelineConfig` from a decoded JSON object; raises :class:`ConfigError`."""
    from bfcnn.model_types import MODEL_TYPES, OWN_PARAMETERS  # plain data, no TensorFlow
    data = _architecture_from_card(data)
    cfg = _build(PipelineConfig, data, "")
    cfg = dataclasses.replace(cfg, base_dir=os.path.abspath(base_dir))
    validate(cfg, MODEL_TYPES, OWN_PARAMETERS)
    return cfg


def _architecture_from_card(data: Any) -> Any:
    """A config with no `model` section that fine-tunes a shipped or exported model
    (train.initial_weights) takes the network from that model's card: a pip-installed model is
    enough to fine-tune it, no repository configs needed."""
    if not isinstance(data, dict) or "model" in data:
        return data
    source = (data.get("train") or {}).get("initial_weights") if isinstance(data.get("train"), dict) else None
    if not source or not isinstance(source, str):
        return data
    from bfcnn.zoo import ModelError, resolve
    try:
        card = resolve(source)
    except ModelError:
        return data   # a .tflite without a card, or a typo: the trainer reports it with its fix
    if not card.architecture:
        raise ConfigError(f"model: missing, and the card of {source!r} does not carry its architecture "
                          f"(exported before cards did); add the model section (configs/ has the "
                          f"shipped models' recipes)")
    architecture = dict(card.architecture)
    if architecture.pop("temporal", False):
        raise ConfigError(f"train.initial_weights {source!r} is a temporal model, which bfcnn no longer trains "
                          f"or runs (frame averaging before a still model beats it); fine-tune a still model")
    return {**data, "model": architecture}   # a card exported with "temporal": false reads as before


def load_pipeline(path: str) -> PipelineConfig:
    """Read and validate a pipeline JSON file (with its "base" configs merged in:
    bfcnn/config_files.py). Relative dataset paths resolve against the folder of the file that
    states them."""
    from bfcnn.config_files import read_config
    return parse_pipeline(read_config(path), base_dir=os.path.dirname(os.path.abspath(path)))


def to_dict(cfg: PipelineConfig) -> dict:
    """The resolved config as plain JSON data (defaults filled in), without internal fields."""
    data = dataclasses.asdict(cfg)
    data.pop("base_dir", None)
    return data


def resolve_path(cfg: PipelineConfig, path: str) -> str:
    """A dataset path from the config, resolved against the config file's folder."""
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(cfg.base_dir, path))


def bias_free_breakers(m: ModelConfig) -> List[str]:
    """Options that add a constant somewhere and so break f(a*y) = a*f(y). Empty when bias-free."""
    reasons = []
    if m.use_bias:
        reasons.append("model.use_bias = true adds a bias to every convolution (and a mean and beta "
                       "to every batch norm)")
    if m.final_activation != "linear":
        reasons.append(f"model.final_activation = {m.final_activation!r} saturates")
    if m.clip_values:
        reasons.append("model.clip_values = true clips the output")
    if m.min_value != 0:
        reasons.append("model.min_value != 0 makes the input normalization affine")
    if m.local_normalization >= 0:
        reasons.append("model.local_normalization >= 0 subtracts a local mean")
    if m.activation == "leaky_relu":
        pass  # leaky ReLU is positively homogeneous: fine
    return reasons
