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
    """Bilinear x2 upsampling, half-pixel centres, edge-clamped: [B, H, W, C] -> [B, 2H, 2W, C].

    Exactly tf.image.resize(..., "bilinear") (max diff 6e-8), computed as symmetric pad,
    one fixed 3x3 conv producing the four output phases at low resolution, and
    depth_to_space. In TFLite that is MIRROR_PAD + CONV_2D + DEPTH_TO_SPACE, which XNNPACK
    runs 3.2x faster than RESIZE_BILINEAR (1.4 vs 4.4 ms for 240x320x3 -> 480x640x3,
    2 threads). Linear, bias-free, works with unknown H, W.
    """

    def build(self, input_shape):
        c = int(input_shape[-1])
        even, odd = np.array([0.25, 0.75, 0.0]), np.array([0.0, 0.75, 0.25])
        phases = [np.outer(r, q) for r in (even, odd) for q in (even, odd)]
        kernel = np.zeros((3, 3, c, 4 * c), np.float32)
        for ch in range(c):
            for p, phase in enumerate(phases):
                kernel[:, :, ch, p * c + ch] = phase   # depth_to_space layout: [row, col, C]
        self.kernel = ops.convert_to_tensor(kernel)

    def call(self, x):
        import tensorflow as tf
        x = ops.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="symmetric")
        return tf.nn.depth_to_space(ops.conv(x, self.kernel, padding="valid"), 2)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else 2 * h, None if w is None else 2 * w, c)


class _PixelShuffle(keras.layers.Layer):
    """A pixel permutation with block size `block` (no weights, bias-free)."""

    def __init__(self, block: int, **kwargs):
        super().__init__(**kwargs)
        self.block = block

    def get_config(self):
        return {**super().get_config(), "block": self.block}


@keras.saving.register_keras_serializable(package="bfcnn")
class SpaceToDepth(_PixelShuffle):
    """[B, H, W, C] -> [B, H/s, W/s, s*s*C] (TFLite SPACE_TO_DEPTH)."""

    def call(self, x):
        import tensorflow as tf
        return tf.nn.space_to_depth(x, self.block)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        s = self.block
        return (b, None if h is None else h // s, None if w is None else w // s, c * s * s)


@keras.saving.register_keras_serializable(package="bfcnn")
class DepthToSpace(_PixelShuffle):
    """[B, H, W, s*s*C] -> [B, H*s, W*s, C] (TFLite DEPTH_TO_SPACE), the inverse of SpaceToDepth."""

    def call(self, x):
        import tensorflow as tf
        return tf.nn.depth_to_space(x, self.block)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        s = self.block
        return (b, None if h is None else h * s, None if w is None else w * s, c // (s * s))


def gaussian_pyramid(x, levels: int, down: "PyrDown" = None, name: str = "pyr_down"):
    """List of `levels` tensors, level 0 = x, level k = PyrDown(level k-1). `down`: one built
    PyrDown layer to apply at every level (inside a tf.function, where new layers per trace
    would leave their constants in a dead graph); None creates one layer per level, named
    `name`_k."""
    out = [x]
    for k in range(1, levels):
        out.append((down or PyrDown(name=f"{name}_{k}"))(out[-1]))
    return out
