"""Start a wider model from a narrower trained one, as the same function (Net2WiderNet).

Why: on this CPU a model trained from scratch does not catch up with a shipped one that carries
tens of thousands of steps (a 7.6K-MAC colour model, 40,000 steps from scratch, ended 0.13 dB
under the 4.6K-MAC realtime model on real photos and 1 dB under it on CBSD68). Widening keeps
everything the narrow model learned and adds channels for fine-tuning to use
(`train.initial_weights_widen`; Chen, Goodfellow, Shlens, "Net2Net", ICLR 2016).

How, for one pyramid level widened from F to G filters (G >= F): channel j of the wide level
copies channel m[j] of the narrow one (m[j] = j for j < F; the G - F new channels copy distinct
random old ones). Every layer that writes that level's residual stream (the stems, each block's
conv) duplicates its output channels by m; every layer that reads it (each block's conv, the
output conv) splits the weight of an old input channel among its copies with random shares that
sum to 1. With no additive constant and a per-channel ReLU the copies hold equal values, so the
wide model computes exactly the narrow one's output; the unequal shares give the copies
different gradients, so training separates them (equal halves never would). Per-channel
batch-norm scales are duplicated. Bias-free stays bias-free: nothing is added but weights.
"""
from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

import numpy as np

_STREAM_WRITERS = re.compile(r"level\d+_(stem|stem_c|b\d+_conv)$")
_STREAM_READERS = re.compile(r"level\d+_(b\d+_conv|out)$")


class WidenError(ValueError):
    """The narrow file cannot be widened into this architecture; says which layer and why."""


def channel_map(narrow: int, wide: int, rng: np.random.Generator) -> np.ndarray:
    """int64 [wide]: the narrow channel each wide channel copies (identity on the first `narrow`)."""
    if wide < narrow:
        raise WidenError(f"cannot narrow a level from {narrow} to {wide} filters; widening only adds "
                         f"channels (set model.filters >= the initial model's)")
    extra = rng.choice(narrow, wide - narrow, replace=wide - narrow > narrow)
    return np.concatenate([np.arange(narrow), extra]).astype(np.int64)


def split_shares(m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float32 [wide]: for each wide channel its share of the old channel it copies, in
    [0.25, 0.75] for copied channels, the shares of one old channel summing to 1."""
    raw = rng.uniform(0.25, 0.75, size=m.shape).astype(np.float64)
    raw[np.bincount(m, minlength=int(m.max()) + 1)[m] == 1] = 1.0
    sums = np.zeros(int(m.max()) + 1)
    np.add.at(sums, m, raw)
    return (raw / sums[m]).astype(np.float32)


def widen_kernel(name: str, kernel: np.ndarray, m: Optional[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Keras conv kernel [kh, kw, I, O] of layer `name` (levelK_...) with its level's stream
    channels mapped by `m` (channel_map): outputs duplicated if the layer writes the stream,
    inputs split if it reads it. m None (a level kept at its width): the kernel unchanged."""
    if m is None:
        return kernel
    if _STREAM_READERS.search(name):
        kernel = kernel[:, :, m, :] * split_shares(m, rng)[None, None, :, None]
    if _STREAM_WRITERS.search(name):
        kernel = kernel[:, :, :, m]
    return np.ascontiguousarray(kernel, dtype=np.float32)


def widen_scale(scale: np.ndarray, m: Optional[np.ndarray]) -> np.ndarray:
    """A per-channel batch-norm scale [F] -> [G], duplicated by its level's map (None: unchanged)."""
    return scale if m is None else np.ascontiguousarray(scale[m])


def level_maps(widths: Dict[int, Tuple[int, int]], rng: np.random.Generator) -> Dict[int, np.ndarray]:
    """{level: channel map} for every level whose (file, config) width differs."""
    return {k: channel_map(narrow, wide, rng) for k, (narrow, wide) in sorted(widths.items())
            if narrow != wide}
