"""The core model on ONNX Runtime: for Jetson and other GPUs, where LiteRT runs on the CPU only.

Same contract as CoreModel (pyramid levels in, denoised frame out, float32 in [0, 1], the
inputs ordered by `input_order`), so Denoiser and VideoDenoiser run either through one
interface. The ONNX file is the model's float TFLite file converted by tf2onnx at export
(python -m bfcnn.export --to-onnx), checked there to agree with it within 1e-4.

ONNX Runtime is an optional extra (pip install bfcnn[onnx], or onnxruntime-gpu on a Jetson);
the default install never imports it. The execution provider is the best one the installed
ONNX Runtime offers: TensorRT, then CUDA, then CPU; `provider` says which one runs.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from bfcnn.zoo import ModelError

PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ImportError("backend 'onnxruntime' needs ONNX Runtime: pip install bfcnn[onnx] "
                          "(on a Jetson: NVIDIA's onnxruntime-gpu wheel, see the README), or use "
                          "backend='litert'") from None
    return onnxruntime


def best_providers(available: Sequence[str]) -> List[str]:
    """The providers to ask for, best first: TensorRT, CUDA, CPU, those `available` only."""
    chosen = [p for p in PREFERRED_PROVIDERS if p in available]
    if not chosen:
        raise ModelError(f"ONNX Runtime offers none of {', '.join(PREFERRED_PROVIDERS)} "
                         f"(it has {', '.join(available) or 'none'}); reinstall onnxruntime")
    return chosen


class OnnxCoreModel:
    """Runs a bfcnn core model (.onnx, float) on ONNX Runtime: pyramid levels in, denoised
    [H, W, C] float32 [0, 1] out. num_threads: ONNX Runtime intra-op threads (CPU provider)."""

    quantized = False

    def __init__(self, path: str, num_threads: Optional[int] = None) -> None:
        ort = _onnxruntime()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(num_threads or 1)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = path
        try:
            self._session = ort.InferenceSession(path, sess_options=opts,
                                                 providers=best_providers(ort.get_available_providers()))
        except (RuntimeError, ValueError) as exc:   # ONNX Runtime's load errors derive from RuntimeError
            raise ModelError(f"{path} is not a loadable ONNX model: {exc}; re-export it "
                             f"(python -m bfcnn.export --to-onnx)") from exc
        self.provider = self._session.get_providers()[0]
        self._names = sorted(i.name for i in self._session.get_inputs())   # = input_order
        self._output = self._session.get_outputs()[0].name
        self._feeds: List[np.ndarray] = []
        self._shapes: Tuple = ()

    @property
    def num_inputs(self) -> int:
        return len(self._names)

    def input_views(self, shapes: Sequence[Tuple[int, ...]]) -> List[np.ndarray]:
        """Writable float32 arrays [1, h, w, C] for `shapes` ([h, w, C] per level), kept between
        frames of one size. Fill them, then call invoke()."""
        shapes = tuple(tuple(s) for s in shapes)
        if shapes != self._shapes:
            self._feeds = [np.zeros((1,) + s, np.float32) for s in shapes]
            self._shapes = shapes
        return list(self._feeds)

    def invoke(self) -> np.ndarray:
        """Run on what the inputs hold; returns the output [H, W, C] float32 in [0, 1]."""
        return self._session.run([self._output], dict(zip(self._names, self._feeds)))[0][0]

    def run_batch(self, levels: Sequence[np.ndarray]) -> np.ndarray:
        """levels as float32 [B, h_k, w_k, C] in [0, 1] (level 0 first) -> float32 [B, H, W, C]."""
        feeds = {n: np.ascontiguousarray(lvl, np.float32) for n, lvl in zip(self._names, levels)}
        return self._session.run([self._output], feeds)[0]

    def __call__(self, levels: Sequence[np.ndarray]) -> np.ndarray:
        """levels: float32 [h_k, w_k, C] arrays (level 0 first). Returns float32 [H, W, C]."""
        return self.run_batch([lvl[None] for lvl in levels])[0]
