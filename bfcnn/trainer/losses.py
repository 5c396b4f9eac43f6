"""Training losses between denoised and clean images, in 0-255 units.

- `mae_multiplier` x hinge MAE: errors below `hinge` grey levels cost nothing (the original
  bfcnn's hinge).
- `mse_multiplier` x MSE / 255. Dominated by the noisiest images: at sigma 50 an image's
  error is ~100x that at sigma 5, so a blind model trained on sigma 0-75 with MSE alone
  learns to neglect low noise.
- `log_mse_multiplier` x mean over images of 10 log10(MSE_i + 0.25), i.e. minus the mean
  per-image PSNR in dB (+ const): every noise level counts equally in dB. The 0.25 (half a
  grey level, squared) keeps noise-free images from dominating.
- `level_multiplier` x mean over the coarse pyramid levels k >= 1 of MSE(d_k, G_k(clean)) / 255:
  deep supervision of each level's output. Without it a multi-scale model may let a coarse
  level's output wander far outside [0, 1] and cancel it at finer levels; float does not
  mind, int8 does (one scale per tensor: measured 20+ dB lost on resnet_5x5_bn_3x3).
"""
from __future__ import annotations

from typing import Optional, Sequence

import tensorflow as tf

from bfcnn.config import LossConfig

LOG_MSE_FLOOR = 0.25


def denoise_loss(cfg: LossConfig, denoised: tf.Tensor, clean: tf.Tensor,
                 level_outputs: Sequence[tf.Tensor] = (),
                 level_targets: Sequence[tf.Tensor] = ()) -> dict:
    """Scalars {"mae", "mse", "log_mse", "levels", "loss"}. Images [B,H,W,C] float32 in [0, 1];
    `level_outputs` / `level_targets`: the coarse levels' outputs d_1.. and the clean pyramid's
    levels G_1.., same shapes pairwise (empty when level_multiplier is 0)."""
    err = (denoised - clean) * 255.0
    mae = tf.reduce_mean(tf.nn.relu(tf.abs(err) - cfg.hinge))
    per_image = tf.reduce_mean(tf.square(err), axis=[1, 2, 3])
    mse = tf.reduce_mean(per_image)
    log_mse = tf.reduce_mean(10.0 * tf.math.log(per_image + LOG_MSE_FLOOR) / tf.math.log(10.0))
    levels = tf.constant(0.0)
    if level_outputs:
        levels = tf.add_n([tf.reduce_mean(tf.square((o - t) * 255.0))
                           for o, t in zip(level_outputs, level_targets)]) / len(level_outputs)
    loss = (cfg.mae_multiplier * mae + cfg.mse_multiplier * mse / 255.0
            + cfg.log_mse_multiplier * log_mse + cfg.level_multiplier * levels / 255.0)
    return {"mae": mae, "mse": mse, "log_mse": log_mse, "levels": levels, "loss": loss}


def psnr(denoised: tf.Tensor, clean: tf.Tensor) -> tf.Tensor:
    """Mean PSNR (dB, peak 1) of a batch after clipping to [0, 1]."""
    return tf.reduce_mean(tf.image.psnr(tf.clip_by_value(denoised, 0.0, 1.0), clean, max_val=1.0))
