"""Registry of backbone types: name -> builder. `model.type` in the config picks one.

A builder maps (x, spec) -> tensor with `spec.out_channels` channels, using only
bias-free pieces unless `spec.use_bias` asks otherwise.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable, Dict

from bfcnn.model_types import MODEL_TYPES


@dataclass(frozen=True)
class BackboneSpec:
    """What one pyramid level's backbone is built with."""
    filters: int
    no_layers: int
    kernel_size: int
    out_channels: int
    batchnorm: bool
    activation: str
    use_bias: bool
    kernel_initializer: str
    kernel_regularizer: str
    regularization: float
    sparsity: float
    name: str


Builder = Callable[..., object]
_REGISTRY: Dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    def wrap(fn: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"model type {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn
    return wrap


def get(name: str) -> Builder:
    _load_builtin()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise KeyError(f"unknown model type {name!r}.{hint} Registered: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def names() -> tuple:
    _load_builtin()
    return tuple(sorted(_REGISTRY))


def _load_builtin() -> None:
    """Import every backbone file of bfcnn/trainer/models/ (importing registers it); lazy so
    importing the registry stays cheap. Each file must register the type it is named after."""
    import importlib
    for name in MODEL_TYPES:
        importlib.import_module(f"bfcnn.trainer.models.{name}")
    missing = set(MODEL_TYPES) - set(_REGISTRY)
    if missing:
        raise RuntimeError(f"bfcnn/trainer/models/{sorted(missing)[0]}.py does not register the model type "
                           f"it is named after (@register({sorted(missing)[0]!r}))")
