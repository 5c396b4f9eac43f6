"""The core model on ONNX Runtime: for Jetson and other GPUs, where LiteRT runs on the CPU only.

Same contract as CoreModel (pyramid levels in, denoised frame out, float32 in [0, 1], the
inputs ordered by `input_order`), so Denoiser runs either through one interface. The ONNX
file is the model's float TFLite file converted by tf2onnx at export (python -m bfcnn.export
--to-onnx), checked there to agree with it within 1e-4.

ONNX Runtime is an optional extra (pip install -e ".[onnx]", or onnxruntime-gpu on a Jetson);
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
        raise ImportError("backend 'onnxruntime' needs ONNX Runtime: pip install onnxruntime "
                          "(on a Jetson: NVIDIA's onnxruntime-gpu wheel, see the README), or use "
                          "backend='litert'") from None
    return onnxruntime


def _errors(ort) -> tuple:
    """Every exception ONNX Runtime raises for a bad model or a failed run: its own classes
    (Fail, InvalidProtobuf, InvalidGraph, ...: they derive from Exception, not RuntimeError),
    and the RuntimeError / ValueError its Python layer raises."""
    import inspect
    state = ort.capi.onnxruntime_pybind11_state
    own = tuple(c for c in vars(state).values() if inspect.isclass(c) and issubclass(c, Exception))
    return own + (RuntimeError, ValueError)


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

    def __init__(self, path: str, num_threads: Optional[int] = None, data: Optional[bytes] = None) -> None:
        """data: the file's bytes as checked against the card (zoo.read_onnx): the session is
        built from them, so what runs is what was checked, and weights in a separate data file
        (which the card's sha256 does not cover) cannot load: built from bytes, ONNX Runtime
        has no folder to find them in."""
        ort = _onnxruntime()
        self._errors = _errors(ort)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(num_threads or 1)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = path
        try:
            self._session = ort.InferenceSession(path if data is None else data, sess_options=opts,
                                                 providers=best_providers(ort.get_available_providers()))
        except self._errors as exc:
            raise ModelError(f"{path} is not a loadable ONNX model (one file, weights inside): "
                             f"{type(exc).__name__}: {exc}; re-export it (python -m bfcnn.export --to-onnx)") from exc
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
        return self._run(dict(zip(self._names, self._feeds)))[0]

    def run_batch(self, levels: Sequence[np.ndarray]) -> np.ndarray:
        """levels as float32 [B, h_k, w_k, C] in [0, 1] (level 0 first) -> float32 [B, H, W, C]."""
        return self._run({n: np.ascontiguousarray(lvl, np.float32) for n, lvl in zip(self._names, levels)})

    def _run(self, feeds) -> np.ndarray:
        try:
            return self._session.run([self._output], feeds)[0]
        except self._errors as exc:
            raise ModelError(f"{self.path} failed to run: {type(exc).__name__}: {exc}; re-export it "
                             f"(python -m bfcnn.export --to-onnx) or use backend='litert'") from exc

    def __call__(self, levels: Sequence[np.ndarray]) -> np.ndarray:
        """levels: float32 [h_k, w_k, C] arrays (level 0 first). Returns float32 [H, W, C]."""
        return self.run_batch([lvl[None] for lvl in levels])[0]
