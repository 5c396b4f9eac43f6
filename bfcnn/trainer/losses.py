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
- `range_multiplier` x mean over the model's inner tensors (every conv, add, norm and
  resampling output: what int8 export gives one scale each) of max(peak |a| - range_limit, 0)^2,
  the peak taken over the batch, in [0, 1]-image units: int8 calibration sets each tensor's
  scale from its peak, so the penalty acts on the peak (a mean of per-pixel excesses left a
  blown-up channel's rare peaks in place: 3.6 after 160 steps against a limit of 1; this form
  reaches the limit). int8 spends its 255 steps on a tensor's whole range, so one channel
  running to 19 (an earlier edge_color_realtime's level-0 stream; its other 50 tensors stay under 1.7)
  leaves the rest a handful of steps: that file lost 2.5 dB in int8. A bias-free model is
  homogeneous, so on [0, 1] input its activations are bounded by a fixed multiple of the input
  range: the penalty bounds that multiple. Zero below the limit, so a model already inside it
  trains exactly as without.
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from bfcnn.config import LossConfig

LOG_MSE_FLOOR = 0.25


def denoise_loss(cfg: LossConfig, denoised: tf.Tensor, clean: tf.Tensor,
                 level_outputs: Sequence[tf.Tensor] = (),
                 level_targets: Sequence[tf.Tensor] = (),
                 inner: Sequence[tf.Tensor] = ()) -> dict:
    """Scalars {"mae", "mse", "log_mse", "levels", "range", "loss"}. Images [B,H,W,C] float32
    in [0, 1]; `level_outputs` / `level_targets`: the coarse levels' outputs d_1.. and the clean
    pyramid's levels G_1.., same shapes pairwise (empty when level_multiplier is 0); `inner`:
    the model's inner tensors, any shapes (empty when range_multiplier is 0)."""
    err = (denoised - clean) * 255.0
    mae = tf.reduce_mean(tf.nn.relu(tf.abs(err) - cfg.hinge))
    per_image = tf.reduce_mean(tf.square(err), axis=[1, 2, 3])
    mse = tf.reduce_mean(per_image)
    log_mse = tf.reduce_mean(10.0 * tf.math.log(per_image + LOG_MSE_FLOOR) / tf.math.log(10.0))
    levels = tf.constant(0.0)
    if level_outputs:
        levels = tf.add_n([tf.reduce_mean(tf.square((o - t) * 255.0))
                           for o, t in zip(level_outputs, level_targets)]) / len(level_outputs)
    excess = tf.constant(0.0)
    if inner:
        excess = tf.add_n([tf.square(tf.nn.relu(tf.reduce_max(tf.abs(a)) - cfg.range_limit))
                           for a in inner]) / len(inner)
    loss = (cfg.mae_multiplier * mae + cfg.mse_multiplier * mse / 255.0
            + cfg.log_mse_multiplier * log_mse + cfg.level_multiplier * levels / 255.0
            + cfg.range_multiplier * excess)
    return {"mae": mae, "mse": mse, "log_mse": log_mse, "levels": levels, "range": excess,
            "loss": loss}


def psnr(denoised: tf.Tensor, clean: tf.Tensor) -> tf.Tensor:
    """Mean PSNR (dB, peak 1) of a batch after clipping to [0, 1]."""
    return tf.reduce_mean(tf.image.psnr(tf.clip_by_value(denoised, 0.0, 1.0), clean, max_val=1.0))
