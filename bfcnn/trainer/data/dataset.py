"""Image folders decoded once into memory, then sampled as seeded random crops.

Images are kept as uint8 in OpenCV's BGR order (the order the runtime receives from
cameras), gray or colour per `dataset.color_mode`. Unreadable, empty or too-small files
are skipped with one warning each, never a crash mid-epoch.
"""
from __future__ import annotations

import glob
import os
import queue
import threading
import warnings
from typing import Iterator, List, Optional

import cv2
import numpy as np

from bfcnn.config import COLOR_MODES, DatasetConfig, PipelineConfig, resolve_path
from bfcnn.trainer.data.augment import augment_crop

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def list_images(directories: List[str]) -> List[str]:
    """Sorted image files under the folders (recursive); raises FileNotFoundError naming the fix."""
    files: List[str] = []
    for d in directories:
        if not os.path.isdir(d):
            raise FileNotFoundError(f"dataset.directory {d!r} is not a folder; point it at a folder "
                                    f"of images (relative paths resolve against the config file)")
        for root, _, names in os.walk(d):
            files.extend(os.path.join(root, n) for n in names if n.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {directories}")
    return sorted(files)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Any decoded image (uint8/uint16/float) -> uint8 with the same layout."""
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return (img >> 8).astype(np.uint8)
    if np.issubdtype(img.dtype, np.floating):
        finite = np.nan_to_num(img, nan=0.0, posinf=1.0, neginf=0.0)
        return np.clip(finite * 255.0 + 0.5, 0, 255).astype(np.uint8)
    raise ValueError(f"unsupported image dtype {img.dtype}")


def read_image(path: str, channels: int) -> np.ndarray:
    """Decode one file to uint8 HxWxchannels (BGR / BGRA / gray). Raises ValueError if unreadable."""
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise ValueError("not a readable image")
    img = to_uint8(img)
    if img.ndim == 2:
        img = img[:, :, None]
    have = img.shape[2]
    if channels == 1 and have != 1:
        img = cv2.cvtColor(img[:, :, :3], cv2.COLOR_BGR2GRAY)[:, :, None]
    elif channels == 3 and have == 1:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif channels == 3 and have == 4:
        img = img[:, :, :3]
    elif channels == 4 and have != 4:
        img = cv2.cvtColor(img if have == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), cv2.COLOR_BGR2BGRA)
    return np.ascontiguousarray(img)


def load_images(cfg: PipelineConfig, limit: Optional[int] = None) -> List[np.ndarray]:
    """All usable training images as uint8 HxWxC arrays, resized to dataset_shape if set."""
    d: DatasetConfig = cfg.dataset
    channels = COLOR_MODES[d.color_mode]
    need_h, need_w = d.input_shape[0], d.input_shape[1]
    images = []
    for path in list_images([resolve_path(cfg, p) for p in d.directories])[:limit]:
        try:
            img = read_image(path, channels)
        except (ValueError, cv2.error) as exc:
            warnings.warn(f"skipping {path}: {exc}", stacklevel=2)
            continue
        if d.dataset_shape[0] > 0 and d.dataset_shape[1] > 0:
            img = cv2.resize(img, (d.dataset_shape[1], d.dataset_shape[0]), interpolation=cv2.INTER_AREA)
            img = img.reshape(d.dataset_shape[0], d.dataset_shape[1], channels)
        if img.shape[0] < need_h or img.shape[1] < need_w:
            warnings.warn(f"skipping {path}: {img.shape[1]}x{img.shape[0]} is smaller than the "
                          f"{need_w}x{need_h} crop (dataset.input_shape)", stacklevel=2)
            continue
        images.append(img)
    if not images:
        raise FileNotFoundError(f"no usable training images in {d.directories}")
    return images


def sample_batch(images: List[np.ndarray], d: DatasetConfig, seed: int, step: int) -> np.ndarray:
    """Batch for `step`: uint8 [batch_size, h, w, C], a pure function of (seed, step)."""
    rng = np.random.default_rng([seed, step])
    h, w = d.input_shape[0], d.input_shape[1]
    picks = rng.integers(0, len(images), size=d.batch_size)
    return np.stack([augment_crop(images[i], h, w, d, rng) for i in picks])


class Prefetcher:
    """Builds batches in a background thread so the training step never waits on numpy.

    Deterministic: batch k is sample_batch(..., step=start + k) regardless of timing.
    """

    def __init__(self, images: List[np.ndarray], d: DatasetConfig, seed: int, start: int, depth: int = 4):
        self._queue: "queue.Queue" = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(images, d, seed, start), daemon=True)
        self._thread.start()

    def _run(self, images, d, seed, start) -> None:
        step = start
        while not self._stop.is_set():
            batch = sample_batch(images, d, seed, step)
            while not self._stop.is_set():
                try:
                    self._queue.put(batch, timeout=0.1)
                    break
                except queue.Full:
                    continue
            step += 1

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            yield self._queue.get()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
