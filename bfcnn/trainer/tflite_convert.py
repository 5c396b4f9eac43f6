"""TFLite conversion of a Keras core and its checks: builtin ops only, run on LiteRT.

The TFLite graph is the multi-scale *core*: inputs level_0 ... level_{L-1} (the Gaussian
pyramid of the image scaled to [0, 1], built at run time by the C++ op), output the
denoised image [1, H, W, C] in [0, 1]. int8 files take and return uint8 (scale ~1/255).
Only builtin TFLite ops are allowed: a graph that would need Select-TF ("Flex") ops is
refused, because plain LiteRT on a Pi cannot run it.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
from typing import List, Sequence

import numpy as np
import tensorflow as tf

from bfcnn.runtime import pyramid

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
FILE_NAMES = {"none": "model.tflite", "float16": "model_float16.tflite",
              "dynamic": "model_dynamic.tflite", "int8": "model_int8.tflite"}


class ExportError(RuntimeError):
    """Export could not produce a file the light runtimes can run; the message says why."""


def numpy_pyramid(img: np.ndarray, levels: int) -> List[np.ndarray]:
    """[H, W, C] float32 [0, 1] -> list of [1, h_k, w_k, C] float32: the runtime's pyramid op
    (the one pyramid outside the Keras graph), with a batch axis."""
    lv = pyramid.pyramid_down(np.ascontiguousarray(img, np.float32), levels, 1.0)
    return [(x if x.ndim == 3 else x[:, :, None])[None] for x in lv]


def convert(core: tf.keras.Model, levels: int, quantization: str, calib: Sequence[np.ndarray]) -> bytes:
    """One TFLite flatbuffer of `core`, builtin ops only. Raises ExportError on Flex ops."""
    with contextlib.redirect_stdout(io.StringIO()):   # Keras prints every input's TensorSpec here
        converter = tf.lite.TFLiteConverter.from_keras_model(core)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantization == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8

        def representative():
            for img in calib:
                pyr = numpy_pyramid(img, levels)
                yield {f"level_{k}": lvl for k, lvl in enumerate(pyr)}
        converter.representative_dataset = representative
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return converter.convert()
    except Exception as exc:  # the converter raises several types; name the cause and stop
        text = str(exc)
        why = (" (a layer needs Select-TF / Flex ops, which plain LiteRT on a Pi cannot run; "
               "use builtin-op layers only)") if any(k in text.lower() for k in ("flex", "select", "custom op", "not supported")) else ""
        raise ExportError(f"TFLite conversion ({quantization}) failed{why}: {text[-600:]}") from exc


def check_builtin_only(flatbuffer: bytes) -> None:
    """Refuse a flatbuffer that contains custom or Flex ops (belt and braces after convert)."""
    from tensorflow.lite.python import schema_py_generated as schema
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    bad = [op.customCode.decode() if isinstance(op.customCode, bytes) else str(op.customCode)
           for op in model.operatorCodes if op.customCode]
    if bad:
        raise ExportError(f"exported graph uses non-builtin ops {bad}; remove the layers that need them")


def run_tflite(flatbuffer: bytes, levels: List[np.ndarray]) -> np.ndarray:
    """Run a flatbuffer on pyramid levels ([1,h,w,C] float32 in [0,1]) with the runtime's own
    core model (LiteRT, as users run it); returns float32 [1,H,W,C] in [0,1]."""
    from bfcnn.runtime.core_model import CoreModel
    return CoreModel(flatbuffer, num_threads=2).run_batch(levels).astype(np.float32)


def psnr_u8(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of two float [0, 1] images after rounding both to 8 bits (dB)."""
    a8 = np.clip(np.round(a * 255.0), 0, 255)
    mse = float(np.mean((a8 - np.round(b * 255.0)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
