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


LOGIT_SCALE = 8.0
MISMATCH_FLOOR = 1e-6   # log(m + floor): a past that agrees exactly gets a large, finite logit


@keras.saving.register_keras_serializable(package="bfcnn")
class TemporalBlend(keras.layers.Layer):
    """A temporal model's per-pixel trust in the past, at one pyramid level.

    Inputs [g, p, corr, noise] or [g, p, corr, noise, z]: the frame's level, the aligned past's
    level and the level's spatial correction ([B, H, W, C]; s = g + corr is this frame's
    estimate), the frame's noise scale ([B, 1, 1, 1], degree 2: NoiseScale), and from the coarser
    level either its verdict z (a logit, [B, H, W, 1]) or, at full resolution (`given_trust`),
    the trust itself ([B, H, W, C]). The level's output becomes s + G * (p - s), one trust per
    pixel shared by the channels:

        G = sigmoid(z + w * log(m) + 8 * offset),   m = |p - s|^2 / noise   (sum over the channels)

    m is how far the past is from this frame's estimate in units of the frame's noise: small on a
    still scene, large where the past does not fit (motion, occlusion, a cut) and where there is
    no past (the first frame and uncovered borders get a past of 0: m = |s|^2 / noise, huge).
    (A first design divided by the level's own correction instead; at the coarse levels that is
    tiny and the ratio sat at 0.95-1.0 on still and moved scenes alike, so the gate learned
    nothing.) With w = -1, G = 1 / (1 + m / m0): the Kalman / Wiener weight of the past when the
    current estimate's error variance is m0 noise units, which is where w starts (a linear m
    spans decades between still and moving scenes; its weight took thousands of steps to move).
    m is degree 0, so G is too (offsets sit inside a scale-free logit: no additive constant
    reaches the output) and f(a*y, a*p) = a*f(y, p). Each level passes
    v * logit + 8 * c to the next finer one, tiled 2x2 for depth_to_space (nearest-neighbour
    upsampling): `pass_on` = "logit" (4 channels) or, for full resolution, "trust" (its sigmoid,
    4 x C channels). Full resolution takes that trust as it is: every op there costs (640x480, 2
    threads: a bilinear upsampling of a 1-channel map 0.75 ms, a broadcast multiply 0.7 ms, a
    same-shape one 0.2 ms).

    Returns the blended correction corr + G * (p - s), or with `final` the level's output
    s + G * (p - s) (one op fewer at full resolution); with `pass_on`, [that, passed]. The logit
    starts at `offset_init` + log-mismatch everywhere (the top level's offset holds it: G <= 0.05
    where the past is at least a noise unit away, next to the still model): v starts at 1, w at
    -1 and c at 0; the factor 8 lets an optimizer that moves a weight
    by about its learning rate per step open a gate within hundreds of steps.
    """

    def __init__(self, pass_on: str = "", given_trust: bool = False, final: bool = False,
                 offset_init: float = 0.0, epsilon: float = 1e-12, **kwargs):
        super().__init__(**kwargs)
        if pass_on not in ("", "logit", "trust"):
            raise ValueError(f"pass_on must be '', 'logit' or 'trust', got {pass_on!r}")
        self.pass_on, self.given_trust, self.final = pass_on, given_trust, final
        self.offset_init = offset_init
        self.epsilon = epsilon

    def build(self, input_shape):
        self.channels = int(input_shape[0][-1])
        if not self.given_trust:
            self.weight = self.add_weight(shape=(1,), initializer=keras.initializers.Constant(-1.0), name="weight")
            self.offset = self.add_weight(shape=(1,), name="offset",
                                          initializer=keras.initializers.Constant(self.offset_init / LOGIT_SCALE))
        if self.pass_on:
            self.pass_scale = self.add_weight(shape=(1,), initializer="ones", name="pass_scale")
            self.pass_offset = self.add_weight(shape=(1,), initializer="zeros", name="pass_offset")

    def logit(self, inputs):
        """[B, H, W, 1]: the trust's logit (not for `given_trust`)."""
        g, p, corr, noise = inputs[:4]
        miss = p - g - corr
        m = ops.conv(miss * miss, ops.ones((1, 1, self.channels, 1)), padding="same") / (noise + self.epsilon)
        logit = self.weight * ops.log(m + MISMATCH_FLOOR) + LOGIT_SCALE * self.offset
        return logit + inputs[4] if len(inputs) > 4 else logit

    def trust(self, inputs):
        """G in (0, 1): how much of each output pixel comes from the past ([B, H, W, 1], or
        [B, H, W, C] for `given_trust`)."""
        return inputs[4] if self.given_trust else ops.sigmoid(self.logit(inputs))

    def call(self, inputs):
        g, p, corr = inputs[:3]
        logit = None if self.given_trust else self.logit(inputs)
        # where there is no past at all (p = 0 in every channel: a first frame, a cut) the trust is
        # exactly 0, so the output is exactly the still model's (sigmoid alone left ~1%: first
        # frames came out 0.9 grey levels darker). An indicator is degree 0: still homogeneous.
        present = None if self.given_trust else \
            ops.cast(ops.greater(ops.sum(ops.abs(p), axis=-1, keepdims=True), 0.0), p.dtype)
        trust = inputs[4] if self.given_trust else ops.sigmoid(logit) * present
        if self.final:
            s = g + corr
            out = s + trust * (p - s)
        else:
            out = corr + trust * (p - g - corr)
        if not self.pass_on:
            return out
        z = self.pass_scale * logit + LOGIT_SCALE * self.pass_offset
        copies = 4 if self.pass_on == "logit" else 4 * self.channels
        if self.pass_on == "trust":
            z = ops.sigmoid(z) * present
        return [out, ops.conv(z, ops.ones((1, 1, 1, copies)), padding="same")]

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape[0]
        if not self.pass_on:
            return input_shape[0]
        return [input_shape[0], (b, h, w, 4 if self.pass_on == "logit" else 4 * c)]

    def get_config(self):
        return {**super().get_config(), "pass_on": self.pass_on, "given_trust": self.given_trust,
                "final": self.final, "offset_init": self.offset_init, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="bfcnn")
class NoiseScale(keras.layers.Layer):
    """The frame's noise scale for TemporalBlend: the mean square of a fine band of the frame,
    [B, 1, 1, 1] (degree 2). Inputs [fine, band]: a pyramid level and the same level's low-pass
    (the next level upsampled); their difference is noise plus fine texture, and on camera frames
    mostly noise. Measured on one of the coarse levels (1/4 of the pixels): cheap."""

    def call(self, inputs):
        fine, low = inputs
        return ops.mean(ops.square(fine - low), axis=(1, 2, 3), keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1, 1, 1)


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
