"""Names of the model types and the keys each reads, found without importing TensorFlow
(config validation stays light).

A model type is one file in bfcnn/trainer/models/ named after it (resnet.py registers "resnet");
adding a backbone means adding that file. The trainer's registry imports these same files. A
backbone that reads `model` keys of its own declares them in its file, `PARAMETERS = ("key",)`
(a literal tuple: read here with `ast`, not imported); the config refuses them for other types.
"""
from __future__ import annotations

import ast
import os
from typing import Dict, Tuple

MODELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trainer", "models")
_NOT_BACKBONES = frozenset({"__init__", "blocks", "multiscale"})   # shared pieces, not model types


def model_types() -> Tuple[str, ...]:
    """Sorted names of the backbone files in bfcnn/trainer/models/."""
    return tuple(sorted(f[:-3] for f in os.listdir(MODELS_DIR)
                        if f.endswith(".py") and f[:-3] not in _NOT_BACKBONES))


MODEL_TYPES = model_types()


def own_parameters() -> Dict[str, Tuple[str, ...]]:
    """{model type: the model keys only it reads}, from each backbone file's PARAMETERS."""
    out = {}
    for name in MODEL_TYPES:
        with open(os.path.join(MODELS_DIR, name + ".py"), encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PARAMETERS"
                                                    for t in node.targets):
                out[name] = tuple(ast.literal_eval(node.value))
    return out


OWN_PARAMETERS = own_parameters()
