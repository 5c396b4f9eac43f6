"""Time candidate architectures before training them: random weights, float TFLite through
LiteRT/XNNPACK, ms per frame, next to the shipped models in the same run (ratios travel
between machines, absolute times do not).
Usage: python benchmarks/arch_speed.py --size 640x480 --threads 2 \
           --arch '{"channels": 1, "levels": 4, "filters": [16,24,32,32], "no_layers": [1,2,3,3], "space_to_depth": 2}' ...
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.report import best_of, publish, table  # noqa: E402


def interpreter(model, channels: int, levels: int, h: int, w: int, threads: int):
    """A CoreModel (path or flatbuffer) resized to an h x w frame, its inputs filled with random
    levels; time its .invoke."""
    from bfcnn.runtime.core_model import CoreModel
    from bfcnn.runtime.pyramid import level_shapes
    core = CoreModel(model, threads)
    rng = np.random.default_rng(0)
    shapes = [(hh, ww, channels) for hh, ww in level_shapes(h, w, levels)]
    views = core.input_views(shapes)
    for v in views:
        v[...] = rng.random(v.shape, dtype=np.float32)
    del views
    return core


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", nargs="+", default=[], help="JSON: channels, levels, filters, no_layers[, space_to_depth]")
    p.add_argument("--size", default="640x480")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--shipped", nargs="*", default=None, help="shipped models to time beside (default: all)")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    w, h = map(int, args.size.split("x"))
    import bfcnn
    from bfcnn.zoo import resolve
    rows = []
    for name in (bfcnn.list_models() if args.shipped is None else args.shipped):
        card = resolve(name)
        it = interpreter(card.file_for("none"), card.channels, card.levels, h, w, args.threads)
        rows.append([f"shipped {name}", card.channels, f"{card.macs_per_pixel / 1e3:.1f}K", f"{1e3 * best_of(it.invoke, 10, 2):.1f}"])
    from bfcnn.config import parse_pipeline
    from bfcnn.trainer.tflite_convert import convert
    from bfcnn.trainer.models import multiscale
    for spec in args.arch:
        a = json.loads(spec)
        ch = a.pop("channels")
        cfg = parse_pipeline({"model": {"type": "resnet", "batchnorm": False, "kernel_regularizer": "none",
                                        "input_shape": ["?", "?", ch], **a},
                              "dataset": {"color_mode": "rgb" if ch == 3 else "grayscale",
                                          "input_shape": [2 ** (a["levels"] + 2)] * 2 + [ch]}})
        built = multiscale.build(cfg.model)
        it = interpreter(convert(built.core, cfg.model.levels, "none", []), ch, cfg.model.levels, h, w, args.threads)
        rows.append([json.dumps(a, separators=(",", ":")), ch, f"{built.macs_per_pixel / 1e3:.1f}K",
                     f"{1e3 * best_of(it.invoke, 10, 2):.1f}"])
    text = table(["model", "channels", "MACs / pixel", f"ms per {args.size} frame ({args.threads} threads)"], rows)
    print(text)
    if not args.no_write:
        publish("Architecture speed (float TFLite, random weights)", text,
                "Interpreter invoke only (no pyramid, no I/O), median of 10. Compare rows of one run.")


if __name__ == "__main__":
    main()
