"""Gaussian pyramid as Keras layers: the same filter as cv2.pyrDown and the C++ op.

5-tap binomial [1, 4, 6, 4, 1] / 16 in each direction, reflect-101 border, stride 2,
output size ((h + 1) // 2, (w + 1) // 2). Linear and bias-free.
"""
from __future__ import annotations

import numpy as np
import keras
from keras import ops

BINOMIAL_5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0], dtype=np.float32) / 16.0


@keras.saving.register_keras_serializable(package="bfcnn")
class PyrDown(keras.layers.Layer):
    """[B, H, W, C] float32 -> [B, (H+1)//2, (W+1)//2, C], cv2.pyrDown semantics."""

    def build(self, input_shape):
        channels = int(input_shape[-1])
        kernel = np.outer(BINOMIAL_5, BINOMIAL_5)[:, :, None, None]
        self.kernel = ops.convert_to_tensor(np.tile(kernel, (1, 1, channels, 1)))

    def call(self, x):
        x = ops.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
        return ops.depthwise_conv(x, self.kernel, strides=2, padding="valid")


@keras.saving.register_keras_serializable(package="bfcnn")
class Upsample2x(keras.layers.Layer):
    """Bilinear x2 upsampling (half-pixel centres): [B, H, W, C] -> [B, 2H, 2W, C]. Linear;
    one RESIZE_BILINEAR op in TFLite. Works with unknown H, W (TensorFlow backend)."""

    def call(self, x):
        import tensorflow as tf
        size = tf.shape(x)[1:3] * 2
        return tf.image.resize(x, size, method="bilinear")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else 2 * h, None if w is None else 2 * w, c)


def gaussian_pyramid(x, levels: int):
    """List of `levels` tensors, level 0 = x, level k = PyrDown(level k-1)."""
    out = [x]
    for k in range(1, levels):
        out.append(PyrDown(name=f"pyr_down_{k}")(out[-1]))
    return out
