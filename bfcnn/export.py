"""`python -m bfcnn.export --checkpoint-directory D --pipeline-config P --output-directory O
--to-tflite [--quantization none float16 dynamic int8]` (the original bfcnn flags).

`--weights-from M` instead of `--checkpoint-directory` exports a model whose checkpoint is
gone: M is a shipped name, an exported folder or a float .tflite; its weights are read back
into the architecture P describes (e.g. to add an int8 file to a shipped model).

`--to-onnx` also writes model.onnx (for ONNX Runtime: Jetson GPUs, TensorRT), converted by
tf2onnx from the float .tflite and checked against it; `--onnx-only M` does only that, beside
the float file of an exported folder or shipped model M."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bfcnn.export", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint-directory", help="the training --model-directory")
    source.add_argument("--weights-from", help="a shipped model name, exported folder or float .tflite")
    source.add_argument("--onnx-only", metavar="MODEL",
                        help="write model.onnx beside the float file of this exported folder or shipped model")
    parser.add_argument("--pipeline-config")
    parser.add_argument("--output-directory")
    parser.add_argument("--to-tflite", action="store_true", help="also write TFLite files")
    parser.add_argument("--to-onnx", action="store_true",
                        help="also write model.onnx (needs --to-tflite with the 'none' quantization)")
    parser.add_argument("--quantization", nargs="+", default=["none"],
                        choices=["none", "float16", "dynamic", "int8"])
    parser.add_argument("--name", default="", help="model name for card.json (default: folder name)")
    parser.add_argument("--check-image", default="", help="image for the TFLite-vs-Keras check")
    parser.add_argument("--equalize", default="auto", metavar="STRENGTH",
                        help="int8 only: rescale residual-stream channels towards equal range before "
                             "quantizing (exact in float): auto (default), or 0-1 with 0 = off")
    parser.add_argument("--calibration-sigma", type=float, default=None, metavar="SIGMA",
                        help="int8 only: top noise sigma (grey levels) of the calibration images; "
                             "default 0.6 x the training top (45 for 0-75): lower gives low-noise "
                             "frames finer int8 steps, noisier frames than this may saturate")
    args = parser.parse_args(argv)
    if args.onnx_only:
        return _onnx_only(args.onnx_only)
    for flag in ("pipeline_config", "output_directory"):
        if not getattr(args, flag):
            parser.error(f"--{flag.replace('_', '-')} is required (except with --onnx-only)")
    if args.to_onnx and not (args.to_tflite and "none" in args.quantization):
        parser.error("--to-onnx converts the float TFLite file: add --to-tflite and keep 'none' in --quantization")
    if args.equalize != "auto":
        raw = args.equalize
        try:
            args.equalize = float(raw)
        except ValueError:
            args.equalize = -1.0
        if not 0.0 <= args.equalize <= 1.0:
            parser.error(f"--equalize must be auto or a number from 0 (off) to 1, got {raw!r}")

    from bfcnn.config import ConfigError, load_pipeline
    try:
        cfg = load_pipeline(args.pipeline_config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        from bfcnn.trainer.export import ExportError, export
    except ImportError as exc:   # a runtime-only install: bfcnn.trainer says what to install
        print(f"error: {exc}", file=sys.stderr)
        return 2
    name = args.name or os.path.basename(os.path.normpath(args.output_directory))
    try:
        card = export(cfg, args.checkpoint_directory, args.output_directory, name,
                      args.quantization, args.to_tflite, args.check_image, weights_from=args.weights_from,
                      equalization=args.equalize, calibration_sigma=args.calibration_sigma,
                      recipe=_recipe_name(args.pipeline_config))
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    check = card["export_check"]
    print(f"exported {name} (step {card['training_steps']}) to {args.output_directory}")
    print(f"  noisy input {check['keras']['psnr_noisy']:.2f} dB, keras {check['keras']['psnr_vs_clean']:.2f} dB"
          f" (sigma {check['sigma']:g})")
    for q, r in check.items():
        if q in ("sigma", "keras"):
            continue
        print(f"  {q:8s} {r['psnr_vs_clean']:.2f} dB vs clean, {r['psnr_vs_float']:.2f} dB vs float, "
              f"max |diff| {r['max_abs_diff_vs_keras']:.2e}")
    if "int8_calibration_sigma" in card:
        print(f"  int8 calibration: sigma 0-{card['int8_calibration_sigma']:g}")
    if "int8_equalization" in card:
        print("  int8 equalization: " + json.dumps(card["int8_equalization"]))
    print("  times (s): " + json.dumps(card["export_seconds"]))
    return _onnx_only(args.output_directory) if args.to_onnx else 0


def _onnx_only(model: str) -> int:
    try:
        from bfcnn.trainer.onnx_export import OnnxExportError, add_onnx
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        path, entry = add_onnx(model)
    except OnnxExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({entry['bytes']} bytes, opset {entry['opset']}); ONNX Runtime vs LiteRT on the "
          f"sample photo: max |diff| {entry['max_abs_diff_vs_tflite']:.1e}")
    return 0


def _recipe_name(path: str) -> str:
    """The config's path relative to the working folder (a repository's configs/... when run
    from its root), or its file name when it lies outside: no machine's absolute paths in a card."""
    rel = os.path.relpath(path)
    return os.path.basename(path) if rel.startswith("..") else rel.replace(os.sep, "/")


if __name__ == "__main__":
    sys.exit(main())
