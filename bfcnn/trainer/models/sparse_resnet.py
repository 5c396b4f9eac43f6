"""sparse_resnet: resnet whose blocks keep, per pixel, only the strongest channels.

The activation is RelativeSparseReLU (threshold = `model.sparsity` x the pixel's channel
maximum), so sparsity does not cost homogeneity.
"""
from __future__ import annotations

import keras

from bfcnn.trainer.layers import RelativeSparseReLU
from bfcnn.trainer.models.blocks import conv, head, norm, stem
from bfcnn.trainer.registry import BackboneSpec, register

# model keys this type reads beyond the shared ones (read by bfcnn/model_types.py without
# importing this file): a config of another type that sets them is refused
PARAMETERS = ("sparsity",)


@register("sparse_resnet")
def build(x, spec: BackboneSpec):
    x = stem(spec, x)
    for i in range(spec.no_layers):
        y = norm(spec, f"{spec.name}_b{i}_bn")(x) if spec.batchnorm else x
        y = RelativeSparseReLU(spec.sparsity, name=f"{spec.name}_b{i}_sparse")(y)
        y = conv(spec, spec.filters, f"{spec.name}_b{i}_conv")(y)
        x = keras.layers.Add(name=f"{spec.name}_b{i}_add")([x, y])
    return head(spec, x)
