"""resnet: stem conv, `no_layers` pre-activation residual blocks, output conv. Bias-free.

Multiply-adds per pixel: k^2 * (c_in*F + no_layers*F^2 + F*c_out).
"""
from __future__ import annotations

import keras

from bfcnn.trainer.models.blocks import conv, head, norm_act, stem
from bfcnn.trainer.registry import BackboneSpec, register


@register("resnet")
def build(x, spec: BackboneSpec):
    x = stem(spec, x)
    for i in range(spec.no_layers):
        y = norm_act(spec, x, f"{spec.name}_b{i}")
        y = conv(spec, spec.filters, f"{spec.name}_b{i}_conv")(y)
        x = keras.layers.Add(name=f"{spec.name}_b{i}_add")([x, y])
    return head(spec, x)
