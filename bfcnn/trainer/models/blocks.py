"""Shared building pieces for the backbones: bias-free conv, norm and activation."""
from __future__ import annotations

import keras

from bfcnn.trainer.layers import ScaleOnlyBatchNorm
from bfcnn.trainer.registry import BackboneSpec


def regularizer(spec: BackboneSpec):
    if spec.kernel_regularizer == "none" or spec.regularization <= 0:
        return None
    r = spec.regularization
    return {"l1": keras.regularizers.L1(r), "l2": keras.regularizers.L2(r),
            "l1_l2": keras.regularizers.L1L2(r, r)}[spec.kernel_regularizer]


def conv(spec: BackboneSpec, filters: int, name: str, kernel_size: int = 0):
    """Conv2D, 'same' zero padding (homogeneous), no bias unless the spec asks for one."""
    return keras.layers.Conv2D(
        filters, kernel_size or spec.kernel_size, padding="same", use_bias=spec.use_bias,
        kernel_initializer=spec.kernel_initializer, kernel_regularizer=regularizer(spec), name=name)


def norm(spec: BackboneSpec, name: str):
    """Batch norm: scale-only (bias-free) by default; with use_bias the standard Keras layer,
    which subtracts the batch mean and adds beta (the biased twin of the paper's experiment:
    DnCNN's additive constants sit in its batch norms as much as in its convolutions)."""
    if spec.use_bias:
        return keras.layers.BatchNormalization(name=name)
    return ScaleOnlyBatchNorm(name=name)


def norm_act(spec: BackboneSpec, x, name: str):
    if spec.batchnorm:
        x = norm(spec, f"{name}_bn")(x)
    if spec.activation == "relu":
        return keras.layers.ReLU(name=f"{name}_relu")(x)
    if spec.activation == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=0.1, name=f"{name}_lrelu")(x)
    return x


def stem(spec: BackboneSpec, x):
    """First conv. `x` is one tensor, or [g_k, c_k, s_k] (a level image, the coarser levels'
    correction or None at the top level, the level's noise map or None): then conv_g(g_k) +
    conv_c(c_k) + conv_s(s_k), the same function as one conv over their concatenation, but
    each input keeps its own int8 scale (TFLite's CONCATENATION forces one scale on all its
    inputs). Not what broke the original-name models' int8 files: with this split they still
    scored 8 dB; their coarse levels leaving [0, 1] did (see loss.level_multiplier).
    The noise map's conv is 1x1 (the map varies slowly; C x filters multiply-adds per pixel)
    and starts at zero, so a blind model's weights load as the same function: the stem's
    ReLU then thresholds at a multiple of the noise std, which a bias-free stem alone cannot."""
    if not isinstance(x, (list, tuple)):
        return conv(spec, spec.filters, f"{spec.name}_stem")(x)
    image, correction, noise = (list(x) + [None])[:3]
    terms = [conv(spec, spec.filters, f"{spec.name}_stem")(image)]
    if correction is not None:
        terms.append(conv(spec, spec.filters, f"{spec.name}_stem_c")(correction))
    if noise is not None:
        terms.append(keras.layers.Conv2D(spec.filters, 1, use_bias=False, kernel_initializer="zeros",
                                         kernel_regularizer=regularizer(spec), name=f"{spec.name}_stem_n")(noise))
    if len(terms) == 1:
        return terms[0]
    return keras.layers.Add(name=f"{spec.name}_stem_add")(terms)


def head(spec: BackboneSpec, x):
    x = norm_act(spec, x, f"{spec.name}_head")
    return conv(spec, spec.out_channels, f"{spec.name}_out")(x)
