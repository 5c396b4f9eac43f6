"""Load a float TFLite file's weights back into a freshly built Keras core model.

Why: checkpoints live in a training run's directory and do not travel with the package;
the shipped float `model.tflite` does, and it holds every weight under its Keras layer
name (`.../level2_b0_conv_1/convolution`). Reading them back lets a user fine-tune a
shipped model on their own camera's noise (`train.initial_weights`), and lets us re-export
a shipped model after a graph change (e.g. a concat-free stem) with the exact same function.

Mapping (TFLite constant -> Keras weight):
- Conv2D kernel `[O, kh, kw, I]` float32 -> `[kh, kw, I, O]`. A stem that was one conv over
  `concat([g_k, c_k])` (files exported before the split stem) is split along I into the
  `_stem` (g_k part) and `_stem_c` (c_k part) kernels: conv(concat) = conv_g(g) + conv_c(c).
- ScaleOnlyBatchNorm folds to one per-channel `.../<name>_bn_1/Mul` constant
  (gamma * rsqrt(moment + eps)): it becomes gamma, and the moving moment becomes 1 - eps.
  `recalibrate_batchnorm` then measures each layer's input second moment on real batches
  and sets gamma = Mul * sqrt(moment + eps): the same inference function, and training-mode
  batch statistics start where the inference ones are.
- Any other layer with weights (biases, ...) is refused with the layer's name: no silent
  partial load.
"""
from __future__ import annotations

import os
import re
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from bfcnn.trainer import widen
from bfcnn.trainer.layers import ScaleOnlyBatchNorm
from bfcnn.trainer.tflite_convert import sha256


class WeightImportError(ValueError):
    """The TFLite file does not hold the weights the Keras model needs; says which and why."""


def read_constants(path: str) -> Dict[str, np.ndarray]:
    """Float32 constant tensors of a TFLite file by name (no interpreter run, no XNNPACK)."""
    from tensorflow.lite.python import schema_py_generated as schema
    with open(path, "rb") as handle:
        buf = handle.read()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    graph = model.subgraphs[0]
    out = {}
    for tensor in graph.tensors:
        data = model.buffers[tensor.buffer].data
        if data is None or len(data) == 0:
            continue
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else tensor.name
        if tensor.type != schema.TensorType.FLOAT32:
            if name.endswith("/convolution") or tensor.type == schema.TensorType.FLOAT16:
                raise WeightImportError(f"{path}: weight {name!r} is quantized; import weights from "
                                        f"the float32 file (model.tflite)")
            continue  # int32 shapes and paddings
        out[name] = np.frombuffer(bytes(bytearray(data)), np.float32).reshape(tensor.shape).copy()
    return out


def locate(spec: str, base_dir: str, sha256: str = "") -> str:
    """Float TFLite path for `train.initial_weights`: a shipped model name, an exported model
    folder, or a .tflite path (relative paths resolve against the config's folder). sha256
    (train.initial_weights_sha256): the file must be that one, or WeightImportError: a name
    resolves to whatever ships now, and a recipe pinned to the file it started from does not
    silently fine-tune another."""
    from bfcnn.zoo import ModelError, resolve
    path = spec if os.path.isabs(spec) else os.path.join(base_dir, spec)
    if spec.endswith(".tflite") and os.path.isfile(path):
        found = path
    else:
        try:
            found = resolve(path if os.path.isdir(path) else spec).file_for("none")
        except ModelError as exc:
            raise WeightImportError(f"train.initial_weights: {exc}") from None
    if sha256:
        digest = file_sha256(found)
        if digest != sha256:
            raise WeightImportError(
                f"train.initial_weights {spec!r} is {found} with sha256 {digest}, but the recipe was written "
                f"for {sha256} (train.initial_weights_sha256): point initial_weights at that file, or clear "
                f"initial_weights_sha256 to fine-tune from this one")
    return found


def file_sha256(path: str) -> str:
    """sha256 hex digest of a model file (tflite_convert.sha256, the digest export records)."""
    with open(path, "rb") as f:
        return sha256(f.read())


def _level_of(layer_name: str) -> int:
    match = re.match(r"level(\d+)_", layer_name)
    if not match:
        raise WeightImportError(f"layer {layer_name!r} belongs to no pyramid level; "
                                f"train.initial_weights_levels cannot select it")
    return int(match.group(1))


def _find(constants: Dict[str, np.ndarray], layer: str, suffix: str) -> np.ndarray:
    pattern = re.compile(rf"(^|/){re.escape(layer)}(_\d+)?/{suffix}$")
    hits = [v for k, v in constants.items() if pattern.search(k)]
    if len(hits) != 1:
        raise KeyError(layer)
    return hits[0]


def load_into(core, path: str, levels: Optional[Sequence[int]] = None,
              widen_rng: Optional[np.random.Generator] = None) -> int:
    """Assign the weights of float TFLite `path` to Keras `core` (the multiscale core model).
    `levels`: load only the layers of these pyramid levels (e.g. [1, 2, 3] when level 0 is
    new), the others keep their fresh initialisation; None loads every layer.
    A file whose top levels were removed at export as dead (card: pruned_levels) loads into
    the full architecture as the same function: those levels' output convs and the highest
    kept level's correction conv are zeroed (their contribution was exactly 0), the rest of
    them start fresh, so fine-tuning can bring them back.
    widen_rng: given, levels with more filters in `core` than in the file are widened from it
    as the same function (bfcnn/trainer/widen.py); None: every shape must match.
    Returns the number of layers loaded. Raises WeightImportError naming the first mismatch."""
    constants = read_constants(path)
    absent = _absent_top_levels(core, constants)
    maps = widen.level_maps(_stem_widths(core, constants, path, absent), widen_rng) if widen_rng is not None else {}
    transform = (lambda name, kernel: widen.widen_kernel(name, kernel, maps.get(_level_of(name)), widen_rng)) \
        if maps else None
    loaded = 0
    for layer in iter_layers(core):
        if not layer.weights:
            continue
        if absent and _zero_if_absent(layer, absent):
            continue
        if levels is not None and _level_of(layer.name) not in levels:
            continue
        if isinstance(layer, ScaleOnlyBatchNorm):
            try:
                mul = _find(constants, layer.name, "Mul")
            except KeyError:
                raise WeightImportError(f"{path}: no batch-norm constant for layer {layer.name!r}; "
                                        f"was the file exported from a model with batchnorm: true?") from None
            mul = widen.widen_scale(mul.reshape(-1), maps.get(_level_of(layer.name)))
            layer.set_weights([mul, np.full_like(mul, 1.0 - layer.epsilon)])
        elif layer.name.endswith("_stem_n") and not _has_conv(constants, layer.name):
            # a blind model's file into a noise-conditioned model: the noise map's 1x1 stem is
            # absent and starts at zero, so the model starts as the blind one (blocks.stem)
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
            continue
        elif layer.__class__.__name__ == "Conv2D" and len(layer.weights) == 1:
            kernel = _conv_kernel(constants, layer.name, tuple(layer.kernel.shape), path, transform)
            layer.set_weights([kernel])
        else:
            raise WeightImportError(f"layer {layer.name!r} ({layer.__class__.__name__}) has weights "
                                    f"that cannot be read back from a TFLite file; fine-tune from a "
                                    f"checkpoint instead")
        loaded += 1
    return loaded


def _has_conv(constants: Dict[str, np.ndarray], layer: str) -> bool:
    try:
        _find(constants, layer, "convolution")
        return True
    except KeyError:
        return False


def _absent_top_levels(core, constants) -> List[int]:
    """Levels of `core` (contiguous from the top) with no stem in the file: pruned at export."""
    names = {layer.name for layer in iter_layers(core)}
    levels = sorted({_level_of(n) for n in names if re.match(r"level\d+_stem$", n)})
    absent = []
    for k in reversed(levels):
        try:
            _find(constants, f"level{k}_stem", "convolution")
            break
        except KeyError:
            absent.append(k)
    if len(absent) == len(levels):
        return []          # nothing matches: let the normal path name the first missing layer
    return absent


def _zero_if_absent(layer, absent: List[int]) -> bool:
    """Handle a layer of a pruned level (or the correction conv above the kept top): True if done."""
    level = _level_of(layer.name)
    kept_top = min(absent) - 1
    if level in absent:
        if layer.name == f"level{level}_out":
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
        return True
    if level == kept_top and layer.name == f"level{level}_stem_c":
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
        return True
    return False


def _stem_widths(core, constants, path: str, absent: List[int]) -> Dict[int, tuple]:
    """{level: (filters in the file, filters in `core`)} from each level's stem; pruned
    (`absent`) levels left out."""
    out = {}
    for layer in iter_layers(core):
        if re.match(r"level\d+_stem$", layer.name) and _level_of(layer.name) not in absent:
            try:
                narrow = int(_find(constants, layer.name, "convolution").shape[0])   # [O, kh, kw, I]
            except KeyError:
                raise WeightImportError(f"{path}: no convolution for layer {layer.name!r}; the file was "
                                        f"exported from a different architecture (check model.levels)") from None
            out[_level_of(layer.name)] = (narrow, int(layer.kernel.shape[-1]))
    return out


def _conv_kernel(constants, name: str, shape: tuple, path: str,
                 transform: Optional[Callable[[str, np.ndarray], np.ndarray]] = None) -> np.ndarray:
    """Keras-layout kernel [kh, kw, I, O] for conv `name`, splitting an old concat stem;
    `transform(name, kernel)` (widening) is applied before the shape check."""
    try:
        kernel = _find(constants, name, "convolution").transpose(1, 2, 3, 0)
    except KeyError:
        kernel = None
    if kernel is None and name.endswith("_stem_c"):  # old file: one stem over [g_k, c_k]
        both = _conv_kernel(constants, name[: -len("_c")], shape[:2] + (2 * shape[2],) + shape[3:], path, transform)
        return both[:, :, shape[2]:, :]
    if kernel is None:
        raise WeightImportError(f"{path}: no convolution for layer {name!r}; the file was exported "
                                f"from a different architecture (check model.levels / filters / no_layers)")
    if kernel.shape != shape and name.endswith("_stem") and kernel.shape[2] == 2 * shape[2]:
        kernel = kernel[:, :, : shape[2], :]  # old concat stem: the g_k half
    if transform is not None:
        kernel = transform(name, kernel)
    if kernel.shape != shape:
        raise WeightImportError(f"{path}: layer {name!r} has kernel {kernel.shape} in the file but "
                                f"{shape} in the config; the config does not describe this model")
    return kernel


def recalibrate_batchnorm(core, pyramids: Sequence[Sequence[np.ndarray]]) -> int:
    """Split each ScaleOnlyBatchNorm's folded scale into gamma and a measured moving moment,
    keeping the inference function unchanged. `pyramids`: list of [level_0, ...] float32
    [B, h_k, w_k, C] inputs of `core` (noisy training crops). Returns the layers updated."""
    import keras
    bns = [layer for layer in iter_layers(core) if isinstance(layer, ScaleOnlyBatchNorm)]
    if not bns:
        return 0
    probe = keras.Model(core.inputs, [bn.input for bn in bns])
    moments = None
    for pyr in pyramids:
        outs = probe(list(pyr), training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        m = [np.mean(np.square(np.asarray(o)), axis=(0, 1, 2)) for o in outs]
        moments = m if moments is None else [a + b for a, b in zip(moments, m)]
    for bn, moment in zip(bns, moments):
        moment = moment / len(pyramids)
        gamma, old = bn.get_weights()
        mul = gamma / np.sqrt(old + bn.epsilon)          # the inference-time scale, kept
        bn.set_weights([mul * np.sqrt(moment + bn.epsilon), moment])
    return len(bns)


def iter_layers(model):
    """Every leaf layer of a (nested) Keras model."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from iter_layers(layer)
        else:
            yield layer
