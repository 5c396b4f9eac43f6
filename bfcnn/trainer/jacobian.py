"""Exact adaptive filters and Jacobians of a Keras bfcnn model by automatic differentiation.

For a bias-free network f(y) = J(y) y; the row J[p, :] is the filter that makes output
pixel p. Results use the runtime's AdaptiveFilter so both paths draw the same figures.
"""
from __future__ import annotations

import os
from typing import List, Sequence, Tuple

import numpy as np
import tensorflow as tf

from bfcnn.config import load_pipeline
from bfcnn.runtime.adaptive_filter import AdaptiveFilter, window_around
from bfcnn.trainer.models.multiscale import BuiltModel
from bfcnn.trainer.checkpoints import build_checkpoint, restore_latest


def load_run(model_dir: str) -> Tuple[BuiltModel, object]:
    """(built model with the latest checkpoint's weights, pipeline config) of a training run."""
    cfg_path = os.path.join(model_dir, "pipeline.json")
    if not os.path.isfile(cfg_path):
        raise FileNotFoundError(f"{model_dir} is not a training run (no pipeline.json); give a run "
                                f"directory, a shipped model name or an exported .tflite")
    cfg = load_pipeline(cfg_path)
    built, _, _, ckpt, manager = build_checkpoint(cfg, model_dir)
    if not manager.latest_checkpoint:
        raise FileNotFoundError(f"no checkpoint in {model_dir}/checkpoints")
    restore_latest(ckpt, manager)
    return built, cfg


def full_gradients(model: tf.keras.Model, image: np.ndarray, pixel: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """d f(y)[y_p, x_p, c_out] / d y for every c_out over the whole image.
    image float32 [H, W, C] in [0, 1] -> (grads [C_out, H, W, C_in], f(y) at the pixel [C_out])."""
    x, y = pixel
    inp = tf.convert_to_tensor(image[None])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(inp)
        out = model(inp, training=False)
        picked = [out[0, y, x, c] for c in range(out.shape[-1])]
    grads = np.stack([tape.gradient(v, inp)[0].numpy() for v in picked])
    del tape
    return grads, np.array([float(v) for v in picked], np.float32)


def filters_autodiff(model: tf.keras.Model, image: np.ndarray, pixels: Sequence[Tuple[int, int]],
                     radius: int = 12) -> List[AdaptiveFilter]:
    """Same as bfcnn.runtime.adaptive_filter.adaptive_filters, exactly, by autodiff."""
    c = image.shape[2]
    out = []
    for (x, y) in pixels:
        grads, value = full_gradients(model, image, (x, y))
        window, src, dst = window_around(image, y, x, radius)
        weights = np.zeros((2 * radius + 1, 2 * radius + 1, grads.shape[0], c), np.float32)
        weights[dst] = np.transpose(grads[(slice(None),) + src], (1, 2, 0, 3))
        out.append(AdaptiveFilter(x, y, weights, np.einsum("hwoi,hwi->o", weights, window), value))
    return out


def jacobian_autodiff(model: tf.keras.Model, patch: np.ndarray) -> np.ndarray:
    """Full Jacobian on a patch treated as the whole image: [h, w, C] -> [h*w*C, h*w*C]."""
    inp = tf.convert_to_tensor(patch[None])
    with tf.GradientTape(persistent=True) as tape:   # persistent: the jacobian loops over outputs
        tape.watch(inp)
        out = tf.reshape(model(inp, training=False), [-1])
    jac = tape.jacobian(out, inp, experimental_use_pfor=False)
    del tape
    n = int(np.prod(patch.shape))
    return jac.numpy().reshape(n, n)
