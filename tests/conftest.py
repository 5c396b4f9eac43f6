"""Shared fixtures: dataset location (BFCNN_DATASETS, default ../shared/datasets) and images."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from bfcnn import evaluation
from bfcnn.evaluation import dataset_root

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASETS = dataset_root()


SETS = ("Train400", "CBSD432", "Set12", "BSD68", "CBSD68", "Kodak24", "PolyU100")


def pytest_sessionstart(session):
    """CI must have every image set: stop at once, naming the missing ones, rather than run a
    suite whose data tests fail one by one."""
    missing = [s for s in SETS if not os.path.isdir(os.path.join(DATASETS, s))]
    if missing and os.environ.get("CI"):
        pytest.exit(f"image sets missing under {DATASETS}: {', '.join(missing)} (set BFCNN_DATASETS; "
                    f"docs/datasets.md says where to get them)", returncode=2)


def repo_config(name: str):
    """configs/NAME.json loaded, its training images read from DATASETS (BFCNN_DATASETS), so a
    checkout anywhere finds them, not only one beside ../shared."""
    import dataclasses
    from bfcnn.config import load_pipeline
    cfg = load_pipeline(os.path.join(REPO, "configs", f"{name}.json"))
    dirs = [os.path.join(DATASETS, os.path.basename(os.path.normpath(d))) for d in cfg.dataset.directories]
    return dataclasses.replace(cfg, dataset=dataclasses.replace(cfg.dataset, directory=dirs))


def require_set(name: str) -> str:
    """Path of image set `name`; fails the test naming the set when it is missing."""
    path = os.path.join(DATASETS, name)
    if not os.path.isdir(path):
        pytest.fail(f"this test needs the {name} image set at {path}; set BFCNN_DATASETS "
                    f"(docs/datasets.md says where to get it)")
    return path


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


psnr = evaluation.psnr


def camera_profile(channels: int):
    """A camera-like noise profile (std rising with intensity, correlated) for noise-conditioned
    models; frame units."""
    from bfcnn.runtime.noise import NoiseProfile
    return NoiseProfile((0.1, 0.5, 0.9), tuple((0.01 + 0.002 * c, 0.03, 0.04) for c in range(channels)), (1.8, 2.0))


def scaled_outputs(den, y: np.ndarray, a: float):
    """(f(y), f(a*y)) unclipped, for a blind model or, jointly scaled, f(y, s) and f(a*y, a*s)
    for a noise-conditioned one."""
    if not den.card.noise_input:
        return den.raw(y), den.raw(y * np.float32(a))
    p = camera_profile(den.card.channels)
    return den.raw(y, noise=p), den.raw(y * np.float32(a), noise=p.scaled(a))
