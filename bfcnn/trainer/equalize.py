"""Residual-stream equalization before int8 conversion (exact in float).

Why: TFLite int8 quantizes each activation tensor with ONE scale. A resnet level carries a
residual stream x (stem output, then x + conv(act(x)) per block) whose channels differ in range
by 10x or more; the small channels are then quantized with the big ones' step, and every
reader (a batch norm multiplying them back up by up to 16x, or a conv) amplifies that error.
The measured int8-vs-float gap of the original-name models (resnet_5x5_bn_3x3, sparse_*) (0.33-0.35 dB on BSD68 at sigma 25) sat in
level 0's blocks.

How: scale stream channel c by s_c > 0. Writers (stem convs, each block's conv) get their
output channel c multiplied by s_c. Readers see the stream only through a per-channel
positively homogeneous map, so they can undo it exactly:
- batch norm (scale-only, y = gamma * x / sqrt(m + eps)): moving moment m_c *= s_c^2;
- ReLU / leaky ReLU / linear then a conv: that conv's input channel c divided by s_c.
(RelativeSparseReLU without batch norm compares channels within a pixel, so scaling them is
not exact; sparse_resnet is equalized only with batch norm. gatenet and dncnn are left alone.)

s_c = (R / r_c) ** strength with r_c the channel's largest |value| over the calibration data
and R the largest r_c: strength 1 gives every channel the range of the widest; 0.5 shares the
change between the activation and (for conv readers) the weight quantization of the reader.
"auto" (the default) takes 1 where batch norms read the stream (nothing else pays) and 0.5
where convs do. Measured on 20 BSD68/CBSD68 images at sigma 25, int8-vs-float gap (dB):
sparse_resnet_5x5_bn_3x3 0.34 -> 0.20 (strength 1), resnet_5x5_bn_3x3 0.36 -> 0.30 (1);
edge_gray_quality 0.39 -> 0.29 (0.5; 1 made it 0.49), edge_color_quality 1.11 -> 0.58 (0.5; 1: 1.27).
Arrays are float32; the model's function is unchanged up to float rounding (tested).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Union

import keras
import numpy as np

from bfcnn.config import ModelConfig


def _layer(core: keras.Model, name: str) -> Optional[keras.layers.Layer]:
    try:
        return core.get_layer(name)
    except ValueError:
        return None


def unsupported_reason(cfg: ModelConfig) -> str:
    """'' if equalize() can rescale this architecture exactly, else why not."""
    if cfg.type == "gatenet":
        return "gatenet's gates multiply stream channels together"
    if cfg.type == "dncnn":
        return "dncnn has no residual stream to equalize (a plain chain of layers)"
    if cfg.type == "sparse_resnet" and not cfg.batchnorm:
        return "sparse_resnet without batch norm compares channels within a pixel"
    if cfg.activation not in ("relu", "leaky_relu", "linear"):
        return f"activation {cfg.activation!r} is not positively homogeneous per channel"
    return ""


def _streams(core: keras.Model, level: int, no_layers: int):
    """(writers, stream tensors, bn readers, conv readers) of one level's residual stream."""
    p = f"level{level}"
    writers = [l for l in (_layer(core, f"{p}_stem"), _layer(core, f"{p}_stem_c")) if l is not None]
    stem_out = _layer(core, f"{p}_stem_add") or _layer(core, f"{p}_stem")
    tensors = [stem_out.output]
    bns, readers = [], []
    for i in range(no_layers):
        conv = core.get_layer(f"{p}_b{i}_conv")
        writers.append(conv)
        readers.append(conv)
        tensors.append(core.get_layer(f"{p}_b{i}_add").output)
        bn = _layer(core, f"{p}_b{i}_bn")
        if bn is not None:
            bns.append(bn)
    head_bn = _layer(core, f"{p}_head_bn")
    if head_bn is not None:
        bns.append(head_bn)
    readers.append(core.get_layer(f"{p}_out"))
    return writers, tensors, bns, readers


AUTO = "auto"


def equalize(core: keras.Model, cfg: ModelConfig, pyramids: Sequence[List[np.ndarray]],
             strength: Union[float, str] = AUTO) -> Dict[str, float]:
    """Rescale every level's residual stream in place (see module docstring).

    core: the multiscale core model (inputs level_0..level_{L-1}); pyramids: calibration
    inputs, each a list of [1, h_k, w_k, C] float32 arrays in [0, 1]. Returns, per level, the
    largest s_c applied. Raises ValueError for an architecture it cannot rescale exactly.
    """
    why = unsupported_reason(cfg)
    if why:
        raise ValueError(f"cannot equalize model.type {cfg.type!r}: {why}")
    if strength != AUTO and not (isinstance(strength, (int, float)) and 0.0 <= strength <= 1.0):
        raise ValueError(f"equalization strength must be 'auto' or in [0, 1], got {strength!r}")
    no_layers = cfg.per_level("no_layers")
    plan = [_streams(core, k, no_layers[k]) for k in range(cfg.levels)]
    peaks = iter(channel_peaks(core, [t for _, tensors, _, _ in plan for t in tensors], pyramids))
    report = {}
    for k, (writers, tensors, bns, readers) in enumerate(plan):
        r = np.max([next(peaks) for _ in tensors], axis=0).astype(np.float64)
        live = r > 1e-6 * r.max()
        s = np.ones_like(r)
        power = (1.0 if bns else 0.5) if strength == AUTO else float(strength)
        s[live] = (r.max() / r[live]) ** power
        _apply(writers, bns, readers, s)
        report[f"level{k}"] = float(s.max())
    return report


def channel_peaks(core: keras.Model, tensors: Sequence, pyramids: Sequence[List[np.ndarray]]) -> List[np.ndarray]:
    """Per tensor of `core` (symbolic outputs of its layers), the largest |value| of each
    channel, float32 [C], over all `pyramids` (calibration inputs as in equalize())."""
    probe = keras.Model(core.inputs, list(tensors))
    peaks = None
    for pyr in pyramids:
        outs = probe(pyr)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        m = [np.max(np.abs(np.asarray(o)), axis=(0, 1, 2)) for o in outs]
        peaks = m if peaks is None else [np.maximum(a, b) for a, b in zip(peaks, m)]
    return peaks


def _apply(writers, bns, readers, s: np.ndarray) -> None:
    """Writers' output channels x s; then the batch norms (if any) or else the reading convs undo it."""
    for layer in writers:
        w = layer.get_weights()
        w[0] = w[0] * s[None, None, None, :]
        if len(w) > 1:
            w[1] = w[1] * s
        layer.set_weights([a.astype(np.float32) for a in w])
    if bns:
        for bn in bns:
            gamma, moment = bn.get_weights()
            bn.set_weights([gamma, (moment * s ** 2).astype(np.float32)])
        return
    for layer in readers:
        w = layer.get_weights()
        w[0] = w[0] / s[None, None, :, None]
        layer.set_weights([a.astype(np.float32) for a in w])
