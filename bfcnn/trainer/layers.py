"""Bias-free Keras layers: scale-only batch norm, relative-threshold sparsity, scale-invariant gates.

Every layer here is positively homogeneous at inference, f(a*x) = a*f(x) for a > 0
(degree 0 for the gate), so a network built from them with bias-free convolutions
is bias-free as a whole.
"""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="bfcnn")
class ScaleOnlyBatchNorm(keras.layers.Layer):
    """Batch norm without a mean: y = gamma * x / sqrt(E[x^2] + eps).

    Keras' BatchNormalization(center=False) still subtracts the running mean (an additive
    constant). This layer divides by the root mean square instead and multiplies by gamma,
    nothing else. Training uses the batch second moment, inference the running one.
    Input and output: float32 [B, H, W, C], any range.
    With `frozen_statistics` (fine-tuning from a trained model) training also uses the running
    moment and leaves it alone, so training and inference compute the same function; gamma
    still trains.
    """

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.epsilon = epsilon
        self.frozen_statistics = False

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.moving_second_moment = self.add_weight(
            shape=(channels,), initializer="ones", trainable=False, name="moving_second_moment")

    def call(self, x, training=False):
        if training and not self.frozen_statistics:
            second = ops.mean(ops.square(x), axis=(0, 1, 2))
            self.moving_second_moment.assign(
                self.momentum * self.moving_second_moment + (1.0 - self.momentum) * second)
        else:
            second = self.moving_second_moment
        return x * (self.gamma * ops.rsqrt(second + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="bfcnn")
class RelativeSparseReLU(keras.layers.Layer):
    """ReLU that keeps, per pixel, only channels above `sparsity` times the channel maximum.

    The threshold scales with the input, so the layer stays positively homogeneous
    (unlike a fixed threshold, which is a bias in disguise). [B, H, W, C] float32.
    """

    def __init__(self, sparsity: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.sparsity = sparsity

    def call(self, x):
        x = ops.relu(x)
        if self.sparsity <= 0:
            return x
        peak = ops.max(x, axis=-1, keepdims=True)
        keep = ops.cast(ops.greater_equal(x, self.sparsity * peak), x.dtype)
        return x * keep

    def get_config(self):
        return {**super().get_config(), "sparsity": self.sparsity}


@keras.saving.register_keras_serializable(package="bfcnn")
class ChannelRMSNormalize(keras.layers.Layer):
    """x / sqrt(mean_c(x^2) + eps): scale-invariant (degree 0) features for gates. [B,H,W,C]."""

    def __init__(self, epsilon: float = 1e-12, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, x):
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="bfcnn")
class NoiseMaps(keras.layers.Layer):
    """A noise-conditioned model's maps from per-crop stds: inputs [g_0, ..., g_{L-1}, stds] with
    stds [B, L, C] (the noise std of each level and channel, bfcnn.runtime.noise_maps); returns
    L maps, map k [B, h_k, w_k, C] = stds[:, k] at every pixel of g_k."""

    def call(self, inputs):
        levels, stds = inputs[:-1], inputs[-1]
        return [ops.ones_like(g) * stds[:, k, None, None, :] for k, g in enumerate(levels)]

    def compute_output_shape(self, input_shape):
        return list(input_shape[:-1])
