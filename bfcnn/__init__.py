"""bfcnn: bias-free CNN blind image denoising for edge devices.

    import bfcnn
    bfcnn.list_models()                      # shipped model names
    model = bfcnn.load_model(name)           # uint8 [1, H, W, C] -> uint8 [1, H, W, C]
    from bfcnn.runtime import Denoiser       # the full runtime API

Importing bfcnn never imports TensorFlow.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from bfcnn.zoo import ModelCard, ModelError, list_models

__version__ = "0.1.0"
__all__ = ["__version__", "list_models", "load_model", "ModelCard", "ModelError"]


def load_model(name: str, num_threads: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """The original bfcnn API: a callable taking uint8 [1, H, W, C] and returning the
    denoised uint8 [1, H, W, C] (C = the model's channels). `name`: see list_models()."""
    from bfcnn.runtime.denoiser import Denoiser
    den = Denoiser(name, num_threads=num_threads or None)

    def run(batch: np.ndarray) -> np.ndarray:
        if not isinstance(batch, np.ndarray) or batch.ndim != 4 or batch.shape[0] != 1:
            shape = getattr(batch, "shape", type(batch).__name__)
            raise ValueError(f"expected a uint8 array [1, H, W, {den.card.channels}], got {shape}")
        if batch.shape[3] != den.card.channels:
            raise ValueError(f"model {den.card.name!r} takes {den.card.channels} channels, got {batch.shape[3]}")
        return den(batch[0])[None]

    run.card = den.card  # type: ignore[attr-defined]
    return run
