"""Hinge MAE (+ optional MSE) between denoised and clean, in 0-255 units for the hinge."""
from __future__ import annotations

import tensorflow as tf

from bfcnn.config import LossConfig


def denoise_loss(cfg: LossConfig, denoised: tf.Tensor, clean: tf.Tensor) -> dict:
    """Scalars {"mae", "mse", "loss"}; images [B,H,W,C] float32 in [0, 1]. Errors below
    `hinge` grey levels cost nothing in the MAE term (the original bfcnn's hinge)."""
    err = tf.abs(denoised - clean) * 255.0
    mae = tf.reduce_mean(tf.nn.relu(err - cfg.hinge))
    mse = tf.reduce_mean(tf.square(err))
    loss = cfg.mae_multiplier * mae + cfg.mse_multiplier * mse / 255.0
    return {"mae": mae, "mse": mse, "loss": loss}


def psnr(denoised: tf.Tensor, clean: tf.Tensor) -> tf.Tensor:
    """Mean PSNR (dB, peak 1) of a batch after clipping to [0, 1]."""
    return tf.reduce_mean(tf.image.psnr(tf.clip_by_value(denoised, 0.0, 1.0), clean, max_val=1.0))
