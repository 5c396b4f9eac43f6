"""dncnn: the plain chain of the bias-free paper's main architecture (Zhang et al. 2017):
conv + ReLU, `no_layers` x (conv, batch norm, ReLU), output conv; no skip inside, the one
residual (output = input + net) is the pyramid wrapper's. Bias-free unless the spec asks for
biases (then it is the paper's biased twin: conv biases and mean-subtracting batch norm).

Multiply-adds per pixel: k^2 * (c_in*F + no_layers*F^2 + F*c_out), as resnet.
"""
from __future__ import annotations

import keras

from bfcnn.trainer.models.blocks import conv, norm_act, stem
from bfcnn.trainer.registry import BackboneSpec, register


@register("dncnn")
def build(x, spec: BackboneSpec):
    x = keras.layers.ReLU(name=f"{spec.name}_stem_relu")(stem(spec, x))
    for i in range(spec.no_layers):
        x = norm_act(spec, conv(spec, spec.filters, f"{spec.name}_l{i}_conv")(x), f"{spec.name}_l{i}")
    return conv(spec, spec.out_channels, f"{spec.name}_out")(x)
