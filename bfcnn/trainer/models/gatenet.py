"""gatenet: residual blocks whose update is switched on/off per pixel and channel by a gate.

gate = sigmoid(conv(x / rms_c(x))) is scale invariant (degree 0), the signal path is
homogeneous (degree 1), so their product keeps the network bias-free.
"""
from __future__ import annotations

import keras

from bfcnn.trainer.layers import ChannelRMSNormalize
from bfcnn.trainer.models.blocks import conv, head, norm_act, stem
from bfcnn.trainer.registry import BackboneSpec, register


@register("gatenet")
def build(x, spec: BackboneSpec):
    x = stem(spec, x)
    for i in range(spec.no_layers):
        name = f"{spec.name}_b{i}"
        signal = conv(spec, spec.filters, f"{name}_signal")(norm_act(spec, x, name))
        gate = ChannelRMSNormalize(name=f"{name}_rms")(x)
        gate = keras.layers.Conv2D(spec.filters, 1, use_bias=False, name=f"{name}_gate_conv",
                                   kernel_initializer=spec.kernel_initializer)(gate)
        gate = keras.layers.Activation("sigmoid", name=f"{name}_gate")(gate)
        update = keras.layers.Multiply(name=f"{name}_gated")([signal, gate])
        x = keras.layers.Add(name=f"{name}_add")([x, update])
    return head(spec, x)
