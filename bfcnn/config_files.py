"""Reading pipeline config files: JSON, and `"base"` inheritance.

A config may name another as its base and state only what changes:

    {"base": "../edge_color_realtime.json",
     "train": {"total_steps": 12000, "initial_weights": "edge_color_realtime"},
     "dataset": {"camera_noise": {"fraction": 0.5}}}

Sections (objects) merge key by key, recursively; any other value (a number, a string, a list)
replaces the base's. Relative paths in a base (dataset.directory, a train.initial_weights that
is a path) stay relative to the base's own folder. A base may have a base; a cycle is an error.
The typed checks (bfcnn.config) run on the merged result, so a typo in either file fails with
its dotted path.
"""
from __future__ import annotations

import json
import os
from typing import Any, List, Optional

from bfcnn.config_checks import ConfigError

MAX_DEPTH = 8


def read_config(path: str, _chain: Optional[List[str]] = None) -> Any:
    """The decoded JSON of `path` with its bases merged in (the "base" key removed)."""
    chain = (_chain or []) + [os.path.realpath(path)]
    if not os.path.isfile(path):
        if _chain:
            raise ConfigError(f"{_chain[-1]}: base {path!r} does not exist; \"base\" is a path relative "
                              f"to the file that names it")
        raise ConfigError(f"pipeline config {path!r} does not exist; pass --pipeline-config PATH "
                          f"to a JSON file (examples in configs/)")
    with open(path, "r", encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or "base" not in data:
        return data
    base = data.pop("base")
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: base must be the path of another config (relative to this file), "
                          f"got {base!r}")
    base_path = os.path.join(os.path.dirname(os.path.abspath(path)), base)
    if os.path.realpath(base_path) in chain:
        raise ConfigError(f"{path}: base {base!r} leads back to itself ({' -> '.join(chain)})")
    if len(chain) > MAX_DEPTH:
        raise ConfigError(f"{path}: more than {MAX_DEPTH} bases in a chain")
    parent = _absolute_paths(read_config(base_path, chain), os.path.dirname(os.path.abspath(base_path)))
    return merge(parent, data)


def merge(base: Any, override: Any) -> Any:
    """`override` on top of `base`: objects merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    return override


def _absolute_paths(data: Any, folder: str) -> Any:
    """The base's relative paths made absolute, so they keep meaning what they meant there."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    dataset = data.get("dataset")
    if isinstance(dataset, dict) and "directory" in dataset:
        d = dict(dataset)
        directory = d["directory"]
        if isinstance(directory, str):
            d["directory"] = _absolute(directory, folder)
        elif isinstance(directory, list):
            d["directory"] = [_absolute(x, folder) if isinstance(x, str) else x for x in directory]
        data["dataset"] = d
    train = data.get("train")
    if isinstance(train, dict) and isinstance(train.get("initial_weights"), str):
        spec = train["initial_weights"]
        if spec.endswith(".tflite") or os.sep in spec or "/" in spec:   # a path, not a shipped name
            data["train"] = {**train, "initial_weights": _absolute(spec, folder)}
    return data


def _absolute(path: str, folder: str) -> str:
    return path if not path or os.path.isabs(path) else os.path.normpath(os.path.join(folder, path))

