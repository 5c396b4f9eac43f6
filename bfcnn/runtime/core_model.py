"""The core model: pyramid levels in, denoised image out, on one LiteRT interpreter.

A bfcnn model file (.tflite) takes the Gaussian pyramid of a frame, one input per level
("level_0" ... : `input_order` is the one definition of which input is which), and returns the
denoised frame. CoreModel runs it: allocated once, resized only on a new shape; float32 levels
in [0, 1], quantized here for int8 files with the file's own scale / zero point; one frame or a
batch. Denoiser, the adaptive filters, the export parity check and the benchmarks all run model
files through it. open_core picks it or its ONNX Runtime twin (onnx_core.OnnxCoreModel).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from bfcnn.zoo import ModelCard, ModelError, read_onnx, verify

BACKENDS = ("litert", "onnxruntime")


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
        return Interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter
        return Interpreter
    except ImportError:
        raise ImportError("no TFLite runtime found: pip install ai-edge-litert "
                          "(or tflite-runtime on platforms LiteRT does not support)") from None


def input_order(details: List[dict]) -> List[dict]:
    """A model's input details sorted as its pyramid levels (level 0 first): by tensor name."""
    return sorted(details, key=lambda d: d["name"])


class CoreModel:
    """Runs a bfcnn core model: pyramid levels in, denoised [H, W, C] float32 [0, 1] out.

    model: a .tflite path, or the flatbuffer itself (bytes). num_threads: LiteRT threads."""

    def __init__(self, model, num_threads: Optional[int] = None):
        cls = _interpreter_class()
        self.path = model if isinstance(model, str) else "<flatbuffer>"
        try:
            if isinstance(model, (bytes, bytearray)):
                self._interp = cls(model_content=bytes(model), num_threads=num_threads or 1)
            else:
                self._interp = cls(model_path=model, num_threads=num_threads or 1)
        except (ValueError, RuntimeError, UnicodeDecodeError) as exc:
            raise ModelError(f"{self.path} is not a loadable TFLite model: {exc}") from exc
        self._shape: Tuple = ()
        self._inputs: List[dict] = []
        self._refresh()
        self._output = self._interp.get_output_details()[0]

    def _refresh(self) -> None:
        self._inputs = input_order(self._interp.get_input_details())

    @property
    def num_inputs(self) -> int:
        return len(self._inputs)

    @property
    def quantized(self) -> bool:
        return self._inputs[0]["dtype"] == np.uint8

    def _ensure_shape(self, shapes: Sequence[Tuple[int, ...]], batch: int = 1) -> None:
        """Resize the inputs to [batch, h_k, w_k, C] for `shapes` = [(h_k, w_k, C), ...]."""
        shapes = tuple((batch,) + tuple(s) for s in shapes)
        if shapes == self._shape:
            return
        # resizing re-initialises XNNPACK (45-400 ms): only on a new frame size
        try:
            for det, shape in zip(self._inputs, shapes):
                self._interp.resize_tensor_input(det["index"], shape, strict=False)
            self._interp.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            self._shape = ()
            raise ModelError(f"{self.path} cannot be prepared for inputs {[s[1:] for s in shapes]} ({exc}); "
                             f"the file is damaged or not a bfcnn model: re-export it") from exc
        self._refresh()
        self._output = self._interp.get_output_details()[0]
        self._shape = shapes

    def input_views(self, shapes: Sequence[Tuple[int, ...]]) -> List[np.ndarray]:
        """Writable numpy views [1, h, w, C] of the float32 input tensors, resized to `shapes`
        ([h, w, C] per level) if needed. Fill them, drop every reference, then call invoke()."""
        if self.quantized:
            raise TypeError("input_views is for float models; int8 models take levels through __call__")
        self._ensure_shape(shapes)
        return [self._interp.tensor(det["index"])() for det in self._inputs]

    def invoke(self) -> np.ndarray:
        """Run on what the inputs hold; returns the output [H, W, C] float32 in [0, 1]."""
        self._interp.invoke()
        out = self._interp.get_tensor(self._output["index"])[0]
        if self._output["dtype"] == np.uint8:
            scale, zero = self._output["quantization"]
            out = (out.astype(np.float32) - np.float32(zero)) * np.float32(scale)
        return out

    def run_batch(self, levels: Sequence[np.ndarray]) -> np.ndarray:
        """levels as float32 [B, h_k, w_k, C] in [0, 1] (level 0 first) -> float32 [B, H, W, C].
        int8 files are quantized in and dequantized out here. The batch dimension is resized
        like the spatial ones (one rebuild per new shape)."""
        self._ensure_shape([lvl.shape[1:] for lvl in levels], batch=levels[0].shape[0])
        for det, lvl in zip(self._inputs, levels):
            self._interp.set_tensor(det["index"], self._quantize(det, np.ascontiguousarray(lvl, np.float32)))
        self._interp.invoke()
        return self._dequantize(self._interp.get_tensor(self._output["index"]))

    def __call__(self, levels: Sequence[np.ndarray]) -> np.ndarray:
        """levels: float32 [h_k, w_k, C] arrays (level 0 first). Returns float32 [H, W, C]."""
        self._ensure_shape([lvl.shape for lvl in levels])
        for det, lvl in zip(self._inputs, levels):
            self._interp.set_tensor(det["index"], self._quantize(det, lvl)[None])
        return self.invoke()

    @staticmethod
    def _quantize(det: dict, lvl: np.ndarray) -> np.ndarray:
        if det["dtype"] != np.uint8:
            return lvl
        scale, zero = det["quantization"]
        return np.clip(np.rint(lvl * np.float32(1.0 / scale)) + np.float32(zero), 0, 255).astype(np.uint8)

    def _dequantize(self, out: np.ndarray) -> np.ndarray:
        if self._output["dtype"] != np.uint8:
            return out.copy()
        scale, zero = self._output["quantization"]
        return (out.astype(np.float32) - np.float32(zero)) * np.float32(scale)


def check_backend(backend: str, quantization: str) -> str:
    """`backend` if it is one of BACKENDS and can run that file: ONNX files are float only."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "onnxruntime" and quantization != "none":
        raise ValueError(f"backend 'onnxruntime' runs the float model only (its ONNX file); "
                         f"quantization={quantization!r} needs backend='litert'")
    return backend


def open_core(card: ModelCard, quantization: str, backend: str, num_threads: Optional[int]):
    """A CoreModel (LiteRT) or OnnxCoreModel (ONNX Runtime) for the card's checked file; both
    take pyramid levels and return the frame the same way."""
    if backend == "onnxruntime":
        from bfcnn.runtime.onnx_core import OnnxCoreModel
        path, data = read_onnx(card)
        return OnnxCoreModel(path, num_threads, data=data)
    return CoreModel(verify(card, quantization), num_threads)
