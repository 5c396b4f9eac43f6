"""Image folders decoded once into memory, then sampled as seeded random crops.

Images are kept as uint8 in OpenCV's BGR order (the order the runtime receives from
cameras), gray or colour per `dataset.color_mode`. Unreadable, empty or too-small files
are skipped with one warning each, never a crash mid-epoch.
"""
from __future__ import annotations

import os
import queue
import threading
import warnings
from typing import Iterator, List, NamedTuple, Optional, Tuple

import cv2
import numpy as np

from bfcnn.config import COLOR_MODES, DatasetConfig, PipelineConfig, resolve_path
from bfcnn.trainer.data.augment import augment_crop
from bfcnn.trainer.data.camera_noise import camera_pair

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


class Batch(NamedTuple):
    """One training batch. clean: uint8 [B, h, w, C], the targets; noisy: uint8 [B, h, w, C],
    the camera-noise inputs where `camera` is 1 (elsewhere a copy of clean: the training step
    corrupts those itself); camera: float32 [B], 1 for crops given camera noise, else 0."""
    clean: np.ndarray
    noisy: np.ndarray
    camera: np.ndarray


def sample_batch(images: List[np.ndarray], d: DatasetConfig, seed: int, step: int) -> Batch:
    """Batch for `step`, a pure function of (seed, step). Crops draw from one random stream and
    camera noise from another, so recipes without camera noise crop exactly as they always did."""
    rng = np.random.default_rng([seed, step])
    h, w = d.input_shape[0], d.input_shape[1]
    picks = rng.integers(0, len(images), size=d.batch_size)
    clean = np.stack([augment_crop(images[i], h, w, d, rng) for i in picks])
    noisy = clean.copy()
    camera = np.zeros(d.batch_size, np.float32)
    if d.camera_noise.fraction > 0:
        cam_rng = np.random.default_rng([seed, step, 11])
        shuffle_rng = np.random.default_rng([seed, step, 13])
        for i in np.flatnonzero(cam_rng.random(d.batch_size) < d.camera_noise.fraction):
            if d.pixel_shuffle_fraction > 0 and shuffle_rng.random() < d.pixel_shuffle_fraction:
                clean[i], noisy[i] = _shuffled_pair(images[picks[i]], h, w, d, shuffle_rng, cam_rng)
            else:
                clean[i], noisy[i] = camera_pair(clean[i], d.camera_noise, cam_rng)
            camera[i] = 1.0
    return Batch(clean, noisy, camera)


def _shuffled_pair(image: np.ndarray, h: int, w: int, d: DatasetConfig, rng: np.random.Generator,
                   cam_rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """(clean, noisy) uint8 [h, w, C]: one stride-2 polyphase sub-image of a (2h, 2w) crop given
    camera noise, what Denoiser(shuffle=True) hands the model: the camera's spatially
    correlated noise nearly white at half resolution, over an aliased image. A crop of h x w
    from an image smaller than 2h x 2w."""
    ih, iw = image.shape[:2]
    big = augment_crop(image, min(ih, 2 * h), min(iw, 2 * w), d, rng)
    clean, noisy = camera_pair(np.ascontiguousarray(big), d.camera_noise, cam_rng)
    py, px = int(rng.integers(2)), int(rng.integers(2))
    if big.shape[0] < 2 * h or big.shape[1] < 2 * w:    # too small to halve: the plain crop
        return clean[:h, :w], noisy[:h, :w]
    return clean[py::2, px::2], noisy[py::2, px::2]


class _Failed(NamedTuple):
    error: Exception


class Prefetcher:
    """Builds batches in a background thread so the training step never waits on numpy.

    Deterministic: batch k is sample_batch(images, d, seed, start + k) regardless of timing.
    """

    def __init__(self, images: List[np.ndarray], d: DatasetConfig, seed: int, start: int, depth: int = 4):
        self._queue: "queue.Queue" = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(images, d, seed, start), daemon=True)
        self._thread.start()

    def _run(self, images, d, seed, start) -> None:
        step = start
        while not self._stop.is_set():
            try:
                batch = sample_batch(images, d, seed, step)
            except Exception as exc:   # handed to the training loop, which raises it (never a hang)
                batch = _Failed(exc)
            while not self._stop.is_set():
                try:
                    self._queue.put(batch, timeout=0.1)
                    break
                except queue.Full:
                    continue
            step += 1

    def __iter__(self) -> Iterator[Batch]:
        while True:
            batch = self._queue.get()
            if isinstance(batch, _Failed):
                raise RuntimeError(f"building a training batch failed: {batch.error!r}") from batch.error
            yield batch

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
