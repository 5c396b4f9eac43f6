"""Shared fixtures: dataset location (BFCNN_DATASETS, default ../shared/datasets) and images."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASETS = os.environ.get("BFCNN_DATASETS", os.path.join(REPO, "..", "shared", "datasets"))


def pytest_collection_modifyitems(config, items):
    """Trainer tests need TensorFlow: without it they skip with the install hint (the runtime-only
    venv test relies on this); everything else still runs."""
    import importlib.util
    if importlib.util.find_spec("tensorflow") is not None:   # find, don't import: 3 s saved
        return
    skip = pytest.mark.skip(reason="trainer tests need TensorFlow: pip install .[train]")
    for item in items:
        if "tests/trainer" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def datasets() -> str:
    if not os.path.isdir(DATASETS):
        pytest.fail(f"datasets not found at {DATASETS}; set BFCNN_DATASETS")
    return DATASETS


def noisy_pair(path: str, sigma: float, seed: int = 0, gray: bool = False):
    """(clean, noisy) uint8 images, noise rounded and clipped like a camera's."""
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    rng = np.random.default_rng(seed)
    noisy = np.clip(np.rint(img + rng.normal(0, sigma, img.shape)), 0, 255).astype(np.uint8)
    return img, noisy


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
