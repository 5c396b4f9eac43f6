"""Names of the model types, found without importing TensorFlow (config validation stays light).

A model type is one file in bfcnn/trainer/models/ named after it (resnet.py registers "resnet");
adding a backbone means adding that file. The trainer's registry imports these same files.
"""
from __future__ import annotations

import os
from typing import Tuple

MODELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trainer", "models")
_NOT_BACKBONES = frozenset({"__init__", "blocks", "multiscale"})   # shared pieces, not model types


def model_types() -> Tuple[str, ...]:
    """Sorted names of the backbone files in bfcnn/trainer/models/."""
    return tuple(sorted(f[:-3] for f in os.listdir(MODELS_DIR)
                        if f.endswith(".py") and f[:-3] not in _NOT_BACKBONES))


MODEL_TYPES = model_types()
