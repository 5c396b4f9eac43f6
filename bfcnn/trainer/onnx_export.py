"""model.onnx beside a model's float .tflite file, for ONNX Runtime (Jetson GPUs, TensorRT).

The ONNX graph is converted by tf2onnx from the float TFLite file itself, so it is the graph
users run on LiteRT: same inputs (level_0 ..., noise_0 ... for noise-conditioned models, NHWC
float32 in [0, 1], any size that is a multiple of the stride), same output. Before the file is
written, ONNX Runtime (CPU) and LiteRT run both on the package's sample photo (its pyramid,
plus its noise maps for noise-conditioned models) and must agree within MAX_ABS_DIFF; the card
records the file's sha256, the opset, the converter and that difference.

tf2onnx is not deterministic from one process to the next: the same file converts to graphs
whose nodes differ, and some are wrong (seen: the output with an extra axis, in 2 of 14
processes converting one tiny trained model; 0 of 24 conversions within one process differed
from its first). So each conversion runs in a fresh child process, the check catches a wrong
graph, and a graph that fails it is converted again, up to ATTEMPTS times, before the export
gives up.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
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
ATTEMPTS = 4               # conversions tried until one passes the check
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
    """The float TFLite file as an ONNX model (bytes), converted by tf2onnx in a child process
    (the module docstring says why)."""
    _tf2onnx()   # a missing package is reported here, with its fix
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, FILE_NAME)
        child = subprocess.run([sys.executable, "-m", "bfcnn.trainer.onnx_export", tflite_path, out],
                               capture_output=True, text=True)
        if child.returncode != 0 or not os.path.isfile(out):
            last = (child.stderr.strip().splitlines() or ["no message"])[-1]
            raise OnnxExportError(f"tf2onnx could not convert {tflite_path}: {last}")
        with open(out, "rb") as f:
            return f.read()


def _convert_here(tflite_path: str) -> bytes:
    """convert()'s work, in this process."""
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
    inputs, failures = check_pyramid(card), []
    for _ in range(ATTEMPTS):
        onnx_bytes = convert(tflite)
        try:
            diff = max_difference(onnx_bytes, tflite, inputs)
        except OnnxExportError as exc:          # a wrong graph (e.g. an extra output axis)
            failures.append(str(exc))
            continue
        if diff <= MAX_ABS_DIFF:
            break
        failures.append(f"differs from {tflite} by up to {diff:.2e} (allowed {MAX_ABS_DIFF:g})")
    else:
        raise OnnxExportError(f"no conversion of {tflite} agreed with it on the sample photo "
                              f"({ATTEMPTS} tried: {'; '.join(failures)}); not written")
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


if __name__ == "__main__":   # convert()'s child process: python -m bfcnn.trainer.onnx_export IN.tflite OUT.onnx
    with open(sys.argv[2], "wb") as f:
        f.write(_convert_here(sys.argv[1]))
