"""Runtime speed: frames/s of every shipped model at 640x480 and 1280x720, colour and gray
frames, 1 and 2 threads, whole frame vs tiles, float32 vs int8, LiteRT vs ONNX Runtime (CPU;
models that ship an ONNX file, whole frames), the runtime's overhead around the interpreter,
and OpenCV non-local means on the same frames in the same run.
Usage: python benchmarks/speed.py [--models NAME ...] [--sizes 640x480 ...] [--no-tiles] [--repeats N] [--no-write]"""
import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.report import best_of, publish, table  # noqa: E402
import bfcnn  # noqa: E402
from bfcnn.runtime import Denoiser  # noqa: E402

from bfcnn.evaluation import dataset_root  # noqa: E402

DATASETS = dataset_root()


def frame(w: int, h: int, gray: bool) -> np.ndarray:
    img = cv2.imread(os.path.join(DATASETS, "Kodak24", "kodim05.png"))
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    noisy = np.clip(np.rint(img + rng.normal(0, 25, img.shape)), 0, 255).astype(np.uint8)
    return cv2.cvtColor(noisy, cv2.COLOR_BGR2GRAY) if gray else noisy


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", nargs="*", default=None)
    p.add_argument("--sizes", nargs="+", default=["640x480", "1280x720"], help="WxH frames")
    p.add_argument("--no-tiles", action="store_true", help="whole frames only (skip the tile rows)")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--ensembles", nargs="+", type=int, default=[1], choices=[1, 2, 4, 8],
                   help="also time self-ensemble passes (whole frames, 2 threads); model column 'name xN'")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    models = args.models or bfcnn.list_models()
    try:
        import onnxruntime  # noqa: F401
        onnx_ok = True
    except ImportError:
        print("note: onnxruntime is not installed: no ONNX Runtime rows (pip install bfcnn[onnx])", file=sys.stderr)
        onnx_ok = False
    rows = []
    for (w, h) in [tuple(map(int, size.split("x"))) for size in args.sizes]:
        for gray in (False, True):
            img = frame(w, h, gray)
            # NLM parameters as tuned in benchmarks/quality.py (gray h = sigma, colour 0.6 sigma)
            nlm = (lambda: cv2.fastNlMeansDenoising(img, None, 25.0, 7, 21)) if gray else \
                  (lambda: cv2.fastNlMeansDenoisingColored(img, None, 15.0, 15.0, 7, 21))
            t_nlm = best_of(nlm, repeats=3, warmup=1)
            for name in models:
                card = bfcnn.zoo.resolve(name)
                for q in sorted(card.quantization):
                    configs = [(1, None, 1, 1), (1, 256, 1, 1), (2, None, 1, 1), (2, 256, 1, 1), (2, 256, 2, 1)]
                    configs += [(2, None, 1, n) for n in args.ensembles if n > 1]
                    runs = [("litert",) + c for c in configs if not (c[1] and args.no_tiles)]
                    if onnx_ok and card.onnx and q == "none":
                        runs += [("onnxruntime", threads, None, 1, 1) for threads in (1, 2)]
                    for backend, threads, tile, workers, n in runs:
                        den = Denoiser(name, num_threads=threads, tile=tile, quantization=q, tile_workers=workers,
                                       ensemble=n, backend=backend)
                        t = best_of(lambda: den(img), repeats=args.repeats)
                        if tile is None and n == 1 and not den.core.quantized:
                            t_inv = best_of(den.core.invoke, repeats=args.repeats)
                            overhead = f"{100 * (t - t_inv) / t:.1f}%"
                        else:
                            overhead = ""
                        print(f"{w}x{h} {'gray' if gray else 'BGR'} {name} {q} {backend} {threads} thread(s)"
                              f"{f', tile {tile}' if tile else ''}{f', ensemble {n}' if n > 1 else ''}: "
                              f"{1 / t:.1f} frames/s", file=sys.stderr, flush=True)
                        rows.append([f"{w}x{h}", "gray" if gray else "BGR", name + (f" x{n}" if n > 1 else ""), q,
                                     backend, threads,
                                     (f"{tile}" + (f" x{workers} workers" if workers > 1 else "")) if tile else "whole",
                                     round(1 / t, 1), round(t * 1e3, 1), overhead,
                                     round(t_nlm / t, 1)])
            rows.append([f"{w}x{h}", "gray" if gray else "BGR", "OpenCV NLM (7/21, tuned h)", "-", "opencv", "default",
                         "whole", round(1 / t_nlm, 2), round(t_nlm * 1e3, 1), "", 1.0])
    body = table(["frame", "colour", "model", "file", "backend", "threads", "tiles", "frames/s", "ms/frame",
                  "runtime overhead", "speed-up vs NLM"], rows)
    notes = ("Frames: Kodak24 kodim05 resized, AWGN sigma 25 rounded to uint8. Median of "
             f"{args.repeats} runs after warm-up. 'runtime overhead' = (frame time - interpreter "
             "invoke time) / frame time, float whole-frame runs. The machine is shared and noisy: "
             "compare ratios within this table, not absolute times across runs.")
    if args.no_write:
        print(body)
    else:
        publish("Runtime speed (Denoiser, end to end per frame)", body, notes)


if __name__ == "__main__":
    main()
