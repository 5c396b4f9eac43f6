"""Bad-input survey: every public entry point against the bad inputs a user can hand it, and
what each gets. Prints a table and appends it to RESULTS.md (the test suite runs the same cases:
tests/test_bad_inputs.py). Usage: python benchmarks/bad_input_survey.py [--no-write]"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable, List, Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import bfcnn  # noqa: E402
from bfcnn.config import ConfigError, load_pipeline, parse_pipeline  # noqa: E402
from bfcnn.runtime import Denoiser, cli, pyramid  # noqa: E402
from bfcnn.zoo import ModelError, resolve  # noqa: E402
from benchmarks.bad_input_scenarios import (  # noqa: E402
    _all_refused, _bad_batch, _bomb, _card_field, _cli_files, _damaged_honest, _diverging, _file_dev_zero,
    _mjpeg_idle, _no_sha, _part_input, _same_names, _sigterm, _symlink_out, _threads_share)

MODEL = "edge_color_realtime"
GOOD = np.full((48, 64, 3), 120, np.uint8)
CLEAR = (ValueError, TypeError, ModelError, ConfigError, FileNotFoundError)


@dataclass
class Case:
    entry: str
    bad: str
    run: Callable[[], object]
    expect: str = "error"          # "error": a clear exception; "exit2": CLI exit code 2; "ok": handled
    says: str = ""                 # "error" / "exit2": what the message must say (a regex): the bad value or the fix


@dataclass
class Outcome:
    case: Case
    result: str                    # what the user got
    clear: bool                    # a clear error (or documented handling), no crash
    usable: Optional[bool]         # Denoiser cases: the instance still denoises afterwards
    wrote_nothing: Optional[bool]  # CLI cases: nothing written to the output folder


def _model_copy(tmp: str, mutate: Callable[[str], None]) -> str:
    card = resolve(MODEL)
    dst = os.path.join(tmp, f"m{len(os.listdir(tmp))}")
    shutil.copytree(card.directory, dst)
    mutate(dst)
    return dst


def _truncate(d):
    p = os.path.join(d, "model.tflite")
    open(p, "r+b").truncate(os.path.getsize(p) // 2)


def _flip(d):
    p = os.path.join(d, "model.tflite")
    data = bytearray(open(p, "rb").read())
    data[len(data) // 2] ^= 0x10
    open(p, "wb").write(bytes(data))


def _not_tflite(d):
    open(os.path.join(d, "model.tflite"), "wb").write(b"PK\x03\x04 this is a zip file" * 100)


def _card_levels(d):
    p = os.path.join(d, "card.json")
    card = json.load(open(p))
    card["levels"] += 1
    json.dump(card, open(p, "w"))


def cases(tmp: str, den: Denoiser) -> List[Case]:
    f32 = GOOD.astype(np.float32) / 255
    nan, inf = f32.copy(), f32.copy()
    nan[3, 4, 1], inf[0, 0, 0] = np.nan, np.inf
    cfg_dir = os.path.join(tmp, "cfg")
    os.makedirs(cfg_dir)
    notjson = os.path.join(cfg_dir, "bad.json")
    open(notjson, "w").write("{model: resnet")
    out_dir = os.path.join(tmp, "cli_out")
    cli_args = ["--output", out_dir, "--no-display"]
    C = Case
    return [
        C("Denoiser()", "list instead of array", lambda: den([[1, 2], [3, 4]]), says=r"numpy array, got list"),
        C("Denoiser()", "int64 frame", lambda: den(GOOD.astype(np.int64)), says=r"got int64; convert with"),
        C("Denoiser()", "bool frame", lambda: den(GOOD > 100), says=r"got bool; convert with"),
        C("Denoiser()", "float64 frame", lambda: den(f32.astype(np.float64)), says=r"got float64; convert with"),
        C("Denoiser()", "NaN in float32 frame", lambda: den(nan), says=r"NaN or Inf; clean it"),
        C("Denoiser()", "Inf in float32 frame", lambda: den(inf), says=r"NaN or Inf; clean it"),
        C("Denoiser()", "0x64x3 (empty)", lambda: den(GOOD[:0]), says=r"empty \(shape \(0, 64, 3\)\)"),
        C("Denoiser()", "4 channels", lambda: den(np.zeros((8, 8, 4), np.uint8)), says=r"HxWx3.*got shape \(8, 8, 4\)"),
        C("Denoiser()", "4-D batch", lambda: den(GOOD[None]), says=r"HxWx3.*got shape \(1, "),
        C("Denoiser()", "1x1 frame", lambda: den(np.zeros((1, 1, 3), np.uint8)), "ok"),
        C("Denoiser()", "1x5000 frame", lambda: den(np.zeros((1, 5000), np.uint8)), "ok"),
        C("Denoiser(...)", "unknown model name", lambda: Denoiser("nope"),
          says=r"unknown model 'nope'\. Shipped models: "),
        C("Denoiser(...)", "missing .tflite path", lambda: Denoiser(os.path.join(tmp, "none.tflite")),
          says=r"none\.tflite' does not exist"),
        C("Denoiser(...)", "truncated .tflite", lambda: Denoiser(_model_copy(tmp, _truncate)),
          says=r"its card says \d+: truncated"),
        C("Denoiser(...)", "bit-flipped .tflite", lambda: Denoiser(_model_copy(tmp, _flip)),
          says=r"does not match its card\.json \(sha256 differs\)"),
        C("Denoiser(...)", "zip file named .tflite", lambda: Denoiser(_model_copy(tmp, _not_tflite)),
          says=r"model\.tflite has \d+ bytes, its card says"),
        C("Denoiser(...)", "card.json not matching model", lambda: Denoiser(_model_copy(tmp, _card_levels)),
          says=r"card\.json: stride must be .*re-export"),
        C("Denoiser(...)", "num_threads=0", lambda: Denoiser(MODEL, num_threads=0),
          says=r"num_threads must be an integer in 1\.\.64.*got 0"),
        C("Denoiser(...)", "tile=-5", lambda: Denoiser(MODEL, tile=-5),
          says=r"tile must be a positive integer or None, got -5"),
        C("Denoiser(...)", "quantization='int4'", lambda: Denoiser(MODEL, quantization="int4"),
          says=r"no 'int4' file; it has "),
        C("load_model()", "unknown name", lambda: bfcnn.load_model("resnet_9x9"),
          says=r"unknown model 'resnet_9x9'\. Shipped models: "),
        C("load_model()(x)", "HxWxC without batch", lambda: bfcnn.load_model(MODEL)(GOOD),
          says=r"\[1, H, W, 3\], got \(48, 64, 3\)"),
        C("pyramid_down()", "3-D with 5 channels", lambda: pyramid.pyramid_down(np.zeros((8, 8, 5), np.uint8), 3),
          says=r"1\.\.4 channels, got 5"),
        C("pyramid_down()", "1-D array", lambda: pyramid.pyramid_down(np.zeros(8, np.uint8), 3),
          says=r"HxW or HxWxC, got shape \(8,\)"),
        C("pyramid_down()", "empty 0x8", lambda: pyramid.pyramid_down(np.zeros((0, 8), np.uint8), 3),
          says=r"empty \(shape \(0, 8\)\)"),
        C("pyramid_down()", "int32 dtype", lambda: pyramid.pyramid_down(np.zeros((8, 8), np.int32), 3),
          says=r"uint8 or float32, got int32"),
        C("pyramid_down()", "levels=0", lambda: pyramid.pyramid_down(np.zeros((8, 8), np.uint8), 0),
          says=r"levels must be an integer in 1\.\.16, got 0"),
        C("pyramid_down()", "out= wrong shape", lambda: pyramid.pyramid_down(
            np.zeros((8, 8), np.uint8), 2, out=[np.zeros((8, 8), np.float32), np.zeros((5, 4), np.float32)]),
              says=r"out\[1\] must hold a 4x4x1 level"),
        C("bfcnn-runtime", "--input missing file", lambda: cli.main(["--input", "/no/such.png"] + cli_args), "exit2",
          says=r"--input '/no/such\.png': no such file"),
        C("bfcnn-runtime", "--model unknown", lambda: cli.main(["--model", "nope"] + cli_args), "exit2",
          says=r"unknown model 'nope'\. Shipped models: "),
        C("bfcnn-runtime", "--camera 99 (no such device)", lambda: cli.main(["--camera", "99"] + cli_args), "exit2",
          says=r"cannot open camera 99.*check it is connected"),
        C("bfcnn-runtime", "--serve not-a-port", lambda: cli.main(["--synthetic", "--serve", "x:y"] + cli_args), "exit2",
          says=r"--serve 'x:y': expected PORT or HOST:PORT"),
        C("bfcnn-runtime", "--threads 0", lambda: cli.main(["--threads", "0"] + cli_args), "exit2",
          says=r"--threads must be in 1\.\.64.*got 0"),
        C("bfcnn-runtime", "--input folder with no images", lambda: cli.main(["--input", cfg_dir] + cli_args), "exit2",
          says=r"no images or videos found"),
        C("load_pipeline()", "missing file", lambda: load_pipeline(os.path.join(tmp, "nope.json")),
          says=r"does not exist; pass --pipeline-config"),
        C("load_pipeline()", "not JSON", lambda: load_pipeline(notjson), says=r"bad\.json: not valid JSON"),
        C("parse_pipeline()", "mistyped key model.filterz", lambda: parse_pipeline({"model": {"filterz": 8}}),
          says=r"model\.filterz: unknown key\. Did you mean 'filters'"),
        C("parse_pipeline()", "wrong type train.total_steps='many'",
          lambda: parse_pipeline({"train": {"total_steps": "many"}}),
            says=r"train\.total_steps: expected an integer, got 'many'"),
        C("parse_pipeline()", "bad enum dataset.color_mode='cmyk'",
          lambda: parse_pipeline({"dataset": {"color_mode": "cmyk"}}),
            says=r"dataset\.color_mode: 'cmyk' is not valid\. Valid options: grayscale, rgb"),
        C("parse_pipeline()", "negative dataset.batch_size", lambda: parse_pipeline({"dataset": {"batch_size": -4}}),
          says=r"dataset\.batch_size: must be > 0, got -4"),
        C("parse_pipeline()", "NaN learning rate", lambda: parse_pipeline({"train": {"optimizer": {"learning_rate": float("nan")}}}),
          says=r"train\.optimizer\.learning_rate: expected a finite number, got nan"),
        C("pyramid_down()", "out=[None / 1.5 / bytes / memoryview]", lambda: _all_refused(
            [lambda j=junk: pyramid.pyramid_down(np.zeros((8, 8), np.uint8), 1, out=[j])
             for junk in (None, 1.5, b"x" * 256, memoryview(b"ab"))]), "ok"),
        C("Denoiser()", "float32 frame holding 0-255", lambda: den(f32 * 255),
          says=r"hold values in \[0, 1\].*looks like 0-255 data"),
        C("Denoiser()", "float32 frame holding 3e38", lambda: den(np.full((8, 8, 3), 3e38, np.float32)),
          says=r"hold values in \[0, 1\].*rescale it"),
        C("Denoiser()", "side over 2^20 (then a good frame)", lambda: den(np.zeros((2, (1 << 20) + 2), np.uint8)),
          says=r"exceeds 1048576; split the frame or resize"),
        C("Denoiser()", "one instance, 4 threads", lambda: _threads_share(den), "ok"),
        C("Denoiser(...)", "num_threads=2000", lambda: Denoiser(MODEL, num_threads=2000),
          says=r"num_threads must be an integer in 1\.\.64.*got 2000"),
        C("Denoiser(...)", "card without sha256", lambda: Denoiser(_model_copy(tmp, _no_sha)),
          says=r"card\.json: quantization\.none must be"),
        C("Denoiser(...)", "card file = /dev/zero", lambda: Denoiser(_model_copy(tmp, _file_dev_zero)),
          says=r"card\.json: quantization\.none must be"),
        C("Denoiser(...)", "card stride 0", lambda: Denoiser(_model_copy(tmp, _card_field("stride", 0))),
          says=r"card\.json: stride must be 2\*\*\(levels-1\).*got 0"),
        C("Denoiser(...)", "card stride \"8\"", lambda: Denoiser(_model_copy(tmp, _card_field("stride", "8"))),
          says=r"card\.json: stride must be 2\*\*\(levels-1\).*got '8'"),
        C("Denoiser(...)", "card quantization []", lambda: Denoiser(_model_copy(tmp, _card_field("quantization", []))),
          says=r"card\.json: quantization must be an object"),
        C("Denoiser(...)", "card halo 7 (not a stride multiple)", lambda: Denoiser(_model_copy(tmp, _card_field("halo", 7))),
          says=r"card\.json: halo must be a multiple of the stride"),
        C("Denoiser(...)", "30 damaged int8 files, honest sha256", lambda: _damaged_honest(tmp, "edge_gray_realtime", "int8"), "ok"),
        C("Denoiser(...)", "30 damaged float files, honest sha256", lambda: _damaged_honest(tmp, MODEL, "none"), "ok"),
        C("bfcnn-runtime", "--fps 0", lambda: cli.main(["--synthetic", "--fps", "0"] + cli_args), "exit2",
          says=r"--fps must be a number in \(0, 1000\], got 0"),
        C("bfcnn-runtime", "--fps nan", lambda: cli.main(["--synthetic", "--fps", "nan"] + cli_args), "exit2",
          says=r"--fps must be a number in \(0, 1000\], got nan"),
        C("bfcnn-runtime", "--threads 2000", lambda: cli.main(["--threads", "2000"] + cli_args), "exit2",
          says=r"--threads must be in 1\.\.64.*got 2000"),
        C("bfcnn-runtime", "--max-frames 0", lambda: cli.main(["--max-frames", "0"] + cli_args), "exit2",
          says=r"--max-frames must be >= 1.*got 0"),
        C("bfcnn-runtime", "video --output out.png", lambda: cli.main(["--output", os.path.join(out_dir, "o.png")]), "exit2",
          says=r"o\.png': a video's output must be named \.mp4 or \.avi"),
        C("bfcnn-runtime files", "--input clip.part.mp4 --output clip.mp4", lambda: _cli_files(tmp, _part_input, 0), "ok"),
        C("bfcnn-runtime files", "same names in two folders", lambda: _cli_files(tmp, _same_names, 0), "ok"),
        C("bfcnn-runtime files", "output = input via symlink", lambda: _cli_files(tmp, _symlink_out, 2), "ok"),
        C("bfcnn-runtime files", "broken video + FIFO *.png in a batch", lambda: _cli_files(tmp, _bad_batch, 1), "ok"),
        C("bfcnn-runtime files", "PNG declaring 20000x20000", lambda: _cli_files(tmp, _bomb, 1), "ok"),
        C("python -m bfcnn.train", "learning rate 1e30 (diverges)", lambda: _diverging(tmp), "ok"),
        C("bfcnn-runtime files", "SIGTERM / double Ctrl-C mid-video", lambda: _sigterm(tmp), "ok"),
        C("bfcnn-runtime --serve", "40 silent connections", _mjpeg_idle, "ok"),
    ]


def _says(case: Case, message: str) -> bool:
    """An error is clear when its message says what the case needs it to (the bad value, the
    fix): a right exception type with a message that names neither is a finding too."""
    return bool(case.says) and re.search(case.says, message, re.DOTALL) is not None


def survey(tmp: str) -> List[Outcome]:
    den = Denoiser(MODEL, num_threads=2)
    reference = den(GOOD)
    out_dir = os.path.join(tmp, "cli_out")
    results = []
    for case in cases(tmp, den):
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                value = case.run()
            if case.expect == "exit2":
                msg = err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else ""
                result, clear = f"exit {value}: {msg}", value == 2 and msg.startswith("error:") and _says(case, msg)
            else:
                shown = f"shape {value.shape}" if hasattr(value, "shape") else (value if isinstance(value, str) else "ok")
                result, clear = "handled: " + shown, case.expect == "ok"
        except CLEAR as exc:
            result, clear = f"{type(exc).__name__}: {exc}", case.expect == "error" and _says(case, str(exc))
        except Exception as exc:  # anything else is a finding, recorded as such
            result, clear = f"UNEXPECTED {type(exc).__name__}: {exc}", False
        usable = bool(np.array_equal(den(GOOD), reference)) if case.entry == "Denoiser()" else None
        wrote = None
        if case.entry == "bfcnn-runtime":
            wrote = not os.path.isdir(out_dir) or not os.listdir(out_dir)
        results.append(Outcome(case, result, clear, usable, wrote))
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = survey(tmp)
    from benchmarks.report import publish, table
    short = lambda s: (s[:110] + "...") if len(s) > 113 else s  # noqa: E731
    rows = [[o.case.entry, o.case.bad, short(o.result.replace("|", "/").replace("\n", " ")),
             "yes" if o.clear else "NO", {None: "-", True: "yes", False: "NO"}[o.usable],
             {None: "-", True: "yes", False: "NO"}[o.wrote_nothing]] for o in outcomes]
    text = table(["entry point", "bad input", "what the user gets", "clear", "instance usable after",
                  "nothing written"], rows)
    print(text)
    if not args.no_write:
        publish("Bad-input survey", text, "Run as root here, so 'permission denied' cannot be produced "
                "(root reads any file); the CLI maps PermissionError to exit 2 like other OSErrors.")


if __name__ == "__main__":
    main()
