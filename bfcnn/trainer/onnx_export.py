"""model.onnx beside a model's float .tflite file, for ONNX Runtime (Jetson GPUs, TensorRT).

The ONNX graph is converted by tf2onnx from the float TFLite file itself, so it is the graph
users run on LiteRT: same inputs (level_0 ..., noise_0 ... for noise-conditioned models, NHWC
float32 in [0, 1], any size that is a multiple of the stride), same output. Before the file is
written, ONNX Runtime (CPU) and LiteRT run both on the package's sample photo (its pyramid,
plus its noise maps for noise-conditioned models) and must agree within MAX_ABS_DIFF; the card
records the file's sha256, the opset, the converter and that difference.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from typing import Dict, List, Tuple

import cv2
import numpy as np

from bfcnn.runtime import noise, noise_maps
from bfcnn.runtime.files import atomic_write_bytes
from bfcnn.trainer.tflite_convert import numpy_pyramid
from bfcnn.zoo import ModelCard, ModelError, card_bytes, resolve, verify

OPSET = 17                 # TensorRT 8.6+ and ONNX Runtime 1.14+ read it
MAX_ABS_DIFF = 1e-4        # ONNX Runtime vs LiteRT on the check frame, [0, 1] units
FILE_NAME = "model.onnx"
SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samples", "sample_image.png")


class OnnxExportError(RuntimeError):
    """The ONNX file could not be made or does not agree with the TFLite file; says why."""


def check_pyramid(card: ModelCard) -> List[np.ndarray]:
    """The sample photo (cropped to 256x256, gray for gray models) as the model's inputs, in
    input order: its pyramid levels [1, h, w, C] float32 in [0, 1], then for a noise-conditioned
    model their noise maps (noise_maps.level_maps of noise.estimate)."""
    img = cv2.imread(SAMPLE, cv2.IMREAD_COLOR if card.channels == 3 else cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise OnnxExportError(f"cannot read the package's sample image {SAMPLE}; reinstall bfcnn")
    img = img[:256, :256].reshape(min(256, img.shape[0]), min(256, img.shape[1]), card.channels)
    frame = img.astype(np.float32) / np.float32(255.0)
    out = numpy_pyramid(frame, card.levels)
    if card.noise_input:   # the photo's own noise, estimated as the runtime does without a profile
        out += [m[None] for m in noise_maps.level_maps(noise.estimate(frame), [lvl[0] for lvl in out])]
    return out


def _tf2onnx():
    try:
        import tf2onnx
    except ImportError:
        raise OnnxExportError("--to-onnx needs tf2onnx: pip install -e \".[train]\" (from the repository root)") from None
    return tf2onnx


def convert(tflite_path: str) -> bytes:
    """The float TFLite file as an ONNX model (bytes), converted by tf2onnx."""
    tf2onnx = _tf2onnx()
    # tf2onnx first asks TensorFlow's interpreter for static shapes, which a model with free
    # input sizes cannot give; it then reads them from the file. Its warning says nothing to a user.
    log = logging.getLogger("tf2onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():   # and that interpreter's deprecation notice
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            proto, _ = tf2onnx.convert.from_tflite(tflite_path, opset=OPSET)
    except Exception as exc:   # noqa: BLE001 - any converter failure is reported with its cause
        raise OnnxExportError(f"tf2onnx could not convert {tflite_path}: {type(exc).__name__}: {exc}") from exc
    finally:
        log.setLevel(level)
    return proto.SerializeToString()


def max_difference(onnx_bytes: bytes, tflite_path: str, inputs: List[np.ndarray]) -> float:
    """Largest |ONNX Runtime - LiteRT| over the output for the same inputs (input order)."""
    from bfcnn.runtime.core_model import CoreModel
    try:
        import onnxruntime as ort
    except ImportError:
        raise OnnxExportError("--to-onnx checks the file on ONNX Runtime: pip install onnxruntime") from None
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    names = sorted(i.name for i in session.get_inputs())
    ours = session.run(None, dict(zip(names, inputs)))[0]
    theirs = CoreModel(tflite_path, num_threads=2).run_batch(inputs)
    if ours.shape != theirs.shape:
        raise OnnxExportError(f"ONNX output {ours.shape} but TFLite output {theirs.shape}")
    return float(np.max(np.abs(ours.astype(np.float64) - theirs)))


def add_onnx(model: str) -> Tuple[str, Dict]:
    """Write model.onnx beside the float file of `model` (an exported folder, a shipped name
    or a .tflite path with its card) and record it in card.json. Returns (path, card entry)."""
    try:
        card = resolve(model)
        tflite = verify(card, "none")
    except ModelError as exc:
        raise OnnxExportError(f"{exc} (ONNX files are made from the float 'none' file)") from exc
    onnx_bytes = convert(tflite)
    diff = max_difference(onnx_bytes, tflite, check_pyramid(card))
    if not diff <= MAX_ABS_DIFF:
        raise OnnxExportError(f"the ONNX file differs from {tflite} by up to {diff:.2e} (allowed "
                              f"{MAX_ABS_DIFF:g}) on the sample photo; not written")
    path = os.path.join(card.directory, FILE_NAME)
    atomic_write_bytes(path, onnx_bytes)
    entry = {"file": FILE_NAME, "sha256": hashlib.sha256(onnx_bytes).hexdigest(), "bytes": len(onnx_bytes),
             "opset": OPSET, "converter": f"tf2onnx {_tf2onnx().__version__} from {os.path.basename(tflite)}",
             "max_abs_diff_vs_tflite": diff}
    card_path = os.path.join(card.directory, "card.json")
    with open(card_path, encoding="utf-8") as f:
        data = json.load(f)
    data["onnx"] = entry
    atomic_write_bytes(card_path, card_bytes(data))
    return path, entry
