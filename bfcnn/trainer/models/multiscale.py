"""Gaussian-pyramid multi-scale wrapper around any registered backbone.

Images live in [0, 1] (input / (max_value - min_value)); the network is linear-scale
throughout. With levels L, the pyramid g_0 (full resolution) ... g_{L-1} is denoised
coarse to fine:

    d_{L-1} = g_{L-1} + net_{L-1}(g_{L-1})
    c_k     = up(d_{k+1} - g_{k+1})            (the coarser levels' correction)
    d_k     = g_k + c_k + net_k([g_k, c_k])

The graph carries corr_k = d_k - g_k = c_k + net_k(...) directly (c_k = up(corr_{k+1})) and
adds g_0 once at the end: the same function and weights as forming d_k - g_k by subtracting
two [0, 1] tensors, one op fewer per level. (That subtraction had the largest error relative
to its own int8 scale in TFLite's quantization debugger, but in absolute terms it was ~0.25
grey levels: removing it left resnet_5x5_bn_3x3's int8 PSNR unchanged, 27.17 dB on BSD68.)

With model.space_to_depth = s > 1, level 0's network runs on s x s pixel-unshuffled blocks
(s^2 x the channels at 1/s^2 of the pixels, then shuffled back): a lossless permutation, so
still bias-free, that lets a wider network see every full-resolution pixel for the cost of a
narrow one. The Gaussian levels k >= 1 are blurred, so without it only level 0's (costly,
hence tiny) network ever sees fine detail.

(net_k's first conv takes g_k and c_k as two convs summed, not one conv over their
concatenation: the same function, but int8 keeps a separate scale for each; see blocks.stem.)

so low-frequency noise is removed where it is cheap (at low resolution) and the
full-resolution net only cleans the finest detail, guided by the coarse correction.
g_k + c_k equals up(d_{k+1}) + (g_k - up(g_{k+1})), the Laplacian-pyramid form, but needs
one upsampling per level instead of two: 29 vs 36 ms at 640x480 colour for the realtime
model (2 threads, XNNPACK), where full-resolution memory traffic, not multiply-adds, dominates.
Every step is linear or a bias-free backbone, so f(a*y) = a*f(y).

Two Keras models come out: `core` takes the pyramid levels as inputs ("level_0" ...)
and is what export writes to TFLite (the runtime's C++ op builds the pyramid);
`full` takes one image and builds the pyramid itself, for training.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import keras
from keras import ops

from bfcnn.config import ModelConfig, bias_free_breakers
from bfcnn.trainer import registry
from bfcnn.trainer.layers import NoiseMaps
from bfcnn.trainer.pyramid import DepthToSpace, SpaceToDepth, Upsample2x, gaussian_pyramid


@dataclass
class BuiltModel:
    full: keras.Model   # [B, H, W, C] float32 in [0, 1] -> same
    core: keras.Model   # [level_0, ..., level_{L-1}] -> [B, H, W, C]
    levels: keras.Model  # like `full`, but -> [d_0, ..., d_{L-1}] (each level's output, for
                         # loss.level_multiplier); shares every weight with full and core
    activations: keras.Model  # like `levels`, then every inner tensor int8 export quantizes
                              # (outputs of convs, adds, norms, resampling), for loss.range_multiplier
    inner_names: list   # names of the ops whose outputs follow the levels in `activations`
    halo: int           # receptive-field radius in full-resolution pixels, rounded up to the stride
    macs_per_pixel: float
    bias_free: bool


def _block(cfg: ModelConfig, level: int) -> int:
    """Pixel-unshuffle factor of a level's network: model.space_to_depth at level 0, else 1."""
    return cfg.space_to_depth if level == 0 else 1


def _spec(cfg: ModelConfig, level: int, regularization: float) -> registry.BackboneSpec:
    return registry.BackboneSpec(
        filters=cfg.per_level("filters")[level], no_layers=cfg.per_level("no_layers")[level],
        kernel_size=cfg.kernel_size, out_channels=cfg.channels * _block(cfg, level) ** 2,
        batchnorm=cfg.batchnorm,
        activation=cfg.activation, use_bias=cfg.use_bias, kernel_initializer=cfg.kernel_initializer,
        kernel_regularizer=cfg.kernel_regularizer, regularization=regularization,
        sparsity=cfg.sparsity, name=f"level{level}")


def receptive_halo(cfg: ModelConfig) -> int:
    """Radius (full-res pixels) beyond which input cannot change an output pixel, rounded up
    to a multiple of 2**(levels-1). Conservative: pyramid (radius 2) and bilinear up (1) included."""
    r = cfg.kernel_size // 2
    layers = cfg.per_level("no_layers")
    halo = 0
    for k in reversed(range(cfg.levels)):
        s = _block(cfg, k)
        own = s * r * (layers[k] + 2) + s - 1          # stem + blocks + head, in level-k pixels
        halo = own if k == cfg.levels - 1 else own + 2 * (halo + 1) + 2
    stride = 2 ** (cfg.levels - 1)
    return -(-halo // stride) * stride


def macs_per_pixel(cfg: ModelConfig) -> float:
    """Multiply-adds per full-resolution pixel of the convolutions (the dominant cost)."""
    k2, c = cfg.kernel_size ** 2, cfg.channels
    total = 0.0
    for level, (f, n) in enumerate(zip(cfg.per_level("filters"), cfg.per_level("no_layers"))):
        s2 = _block(cfg, level) ** 2                   # unshuffled: s^2 x channels, 1/s^2 pixels
        c_in = (c if level == cfg.levels - 1 else 2 * c) * s2
        per = k2 * (c_in * f + n * f * f + f * c * s2)
        if cfg.noise_input:
            per += c * s2 * f                          # the noise map's 1x1 stem
        if cfg.type == "gatenet":
            per += n * f * f
        total += per / 4 ** level / s2
    return total


def _finish(cfg: ModelConfig, x):
    if cfg.final_activation == "tanh":
        x = 0.5 + 0.5 * ops.tanh(2.0 * (x - 0.5))
    elif cfg.final_activation == "sigmoid":
        x = ops.sigmoid(4.0 * (x - 0.5))
    elif cfg.final_activation == "hard_sigmoid":
        x = ops.clip(x, 0.0, 1.0)
    if cfg.clip_values:
        x = ops.clip(x, 0.0, 1.0)
    return x


def build(cfg: ModelConfig, regularization: float = 0.0) -> BuiltModel:
    """Build the multi-scale model described by `cfg` (see module docstring)."""
    breakers = bias_free_breakers(cfg)
    for reason in breakers:
        warnings.warn(f"model is not bias-free: {reason}; the exported card records bias_free=false",
                      stacklevel=2)
    builder = registry.get(cfg.type)
    c = cfg.channels
    levels_in = [keras.Input(shape=(None, None, c), name=f"level_{k}") for k in range(cfg.levels)]
    noise_in = [keras.Input(shape=(None, None, c), name=f"noise_{k}") for k in range(cfg.levels)] \
        if cfg.noise_input else []
    inputs = levels_in + noise_in
    top = cfg.levels - 1

    def stem_inputs(k, correction):
        """What level k's stem takes: g_k, or [g_k, c_k] / [g_k, c_k, s_k] (see blocks.stem)."""
        if not cfg.noise_input:
            return levels_in[k] if correction is None else [levels_in[k], correction]
        return [levels_in[k], correction, noise_in[k]]

    # corr_k = d_k - g_k, carried as itself (see the module docstring)
    def level_net(k, x):
        s = _block(cfg, k)
        if s == 1:
            return builder(x, _spec(cfg, k, regularization))
        x = [None if t is None else SpaceToDepth(s, name=f"level{k}_s2d_{i}")(t) for i, t in enumerate(x)] \
            if isinstance(x, list) else SpaceToDepth(s, name=f"level{k}_s2d")(x)
        return DepthToSpace(s, name=f"level{k}_d2s")(builder(x, _spec(cfg, k, regularization)))

    corr = cfg.output_multiplier * level_net(top, stem_inputs(top, None))
    outputs = [levels_in[top] + corr]
    for k in reversed(range(top)):
        if cfg.stop_grads:
            corr = ops.stop_gradient(corr)
        up_c = Upsample2x(name=f"up_c{k}")(corr)
        corr = up_c + cfg.output_multiplier * level_net(k, stem_inputs(k, up_c))
        outputs.insert(0, levels_in[k] + corr)
    d = _finish(cfg, outputs[0])
    core = keras.Model(inputs, d, name=f"bfcnn_{cfg.type}_core")
    core_levels = keras.Model(inputs, [d] + outputs[1:], name=f"bfcnn_{cfg.type}_levels")

    inner_ops = [op for op in core_levels.operations if _quantized_tensor(op)]
    inner = [op.output for op in inner_ops]
    core_inner = keras.Model(inputs, [d] + outputs[1:] + inner, name=f"bfcnn_{cfg.type}_inner")

    image = keras.Input(shape=(None, None, c), name="image")
    pyramid = gaussian_pyramid(image, cfg.levels)
    if cfg.noise_input:   # full: [image, noise std per level and channel, [B, levels, C]]
        stds = keras.Input(shape=(cfg.levels, c), name="noise_std")
        image = [image, stds]
        pyramid = pyramid + NoiseMaps(name="noise_maps")(pyramid + [stds])
    full = keras.Model(image, core(pyramid), name=f"bfcnn_{cfg.type}")
    levels = keras.Model(image, core_levels(pyramid), name=f"bfcnn_{cfg.type}_per_level")
    activations = keras.Model(image, core_inner(pyramid), name=f"bfcnn_{cfg.type}_activations")
    return BuiltModel(full=full, core=core, levels=levels, activations=activations,
                      inner_names=[op.name for op in inner_ops],
                      halo=receptive_halo(cfg), macs_per_pixel=macs_per_pixel(cfg),
                      bias_free=not breakers)


def _quantized_tensor(op) -> bool:
    """Whether `op`'s output is a tensor of its own in the int8 file: not an input, and not an
    activation (TFLite fuses ReLU into the op before it; its range lies within that op's)."""
    return not isinstance(op, (keras.layers.InputLayer, keras.layers.ReLU, keras.layers.LeakyReLU))
