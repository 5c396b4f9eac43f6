"""TensorBoard image grids: noisy | denoised | clean rows, and the random-batch probe."""
from __future__ import annotations

import numpy as np

from bfcnn.runtime.noise_maps import level_factors

from bfcnn.config import TrainConfig


def image_grid(noisy: np.ndarray, denoised: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """[N,H,W,C] x3 float32 in [0,1] -> [1, N*H, 3*W, 3] RGB float32 (BGR flipped for display)."""
    rows = np.concatenate([noisy, denoised, clean], axis=2)
    grid = np.clip(np.concatenate(list(rows), axis=0), 0.0, 1.0)[None]
    if grid.shape[-1] == 1:
        grid = np.repeat(grid, 3, axis=-1)
    return grid[..., :3][..., ::-1].copy()


def random_batch_images(model, t: TrainConfig) -> np.ndarray:
    """The original bfcnn probe: uniform noise denoised `random_batch_iterations` times in a row.
    A healthy denoiser turns it into smooth texture; [1, H, W, 3] float32 in [0, 1]."""
    h, w, c = t.random_batch_size
    rng = np.random.default_rng(t.seed)
    noise_input = len(model.inputs) == 2      # [image, noise std per level] (model.noise_input)
    channels = model.inputs[0].shape[-1]
    x = rng.random((1, h, w, channels), dtype=np.float32)
    for _ in range(max(1, t.random_batch_iterations)):
        if noise_input:   # told the first pass's truth: uniform noise, std 1/sqrt(12), white
            levels = model.inputs[1].shape[1]
            stds = np.repeat(level_factors((), levels)[None, :, None] / np.sqrt(12.0), channels, axis=2)
            x = np.asarray(model([x, stds.astype(np.float32)], training=False))
        else:
            x = np.asarray(model(x, training=False))
    x = np.clip(x, 0.0, 1.0)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return x[..., :3][..., ::-1].copy()
