"""Drive the C++ pyramid op (possibly an ASan/UBSan build) with random or fuzzer-chosen inputs.

    python tests/native/pyramid_fuzz.py MODULE.so random N [SEED]
    python tests/native/pyramid_fuzz.py MODULE.so atheris N

atheris drives the inputs from fuzzer bytes; with a gcc-built ASan module it gets no coverage
feedback (measured: corpus stays at 1 entry; gcc cannot emit libFuzzer's coverage hooks), so it
is a mutation-based random search here, and the RNG mode is the main driver. Each case builds an image from the input bytes: shape (1x1 up to 70x90), 1-5 channels or 2-D,
uint8 / float32 / other dtypes, C-contiguous or a strided, transposed or negative-stride view,
levels 0-8, with or without `out=` arrays (right and wrong); and, in a share of the cases, any
Python object in place of one argument or one `out` item (None, numbers, numpy scalars, bytes,
memoryviews, strings, lists, dicts, read-only / non-contiguous / float64 arrays). Valid inputs must match the numpy
reference (1 LSB uint8, 1e-5 float32); invalid ones must raise ValueError / TypeError. Anything
else (a crash, a sanitizer report, a wrong value) fails the run.
"""
import importlib.util
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from bfcnn.runtime.pyramid import _pyramid_numpy, level_shapes, pyr_up as _unused  # noqa: E402,F401


def load(path):
    spec = importlib.util.spec_from_file_location("_pyramid", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Bytes:
    """Integers from a byte string (atheris) or an RNG (random mode)."""

    def __init__(self, rng=None, data=b""):
        self.rng, self.data, self.pos = rng, data, 0

    def int(self, lo, hi):
        if self.rng is not None:
            return int(self.rng.integers(lo, hi + 1))
        if self.pos >= len(self.data):
            return lo
        v = self.data[self.pos]
        self.pos += 1
        return lo + v % (hi - lo + 1)


def make_case(b: Bytes):
    h, w = b.int(1, 70), b.int(1, 90)
    if b.int(0, 24) == 0:                          # big enough for the banded multi-thread path
        h, w = b.int(150, 400), b.int(150, 300)
    kind = b.int(0, 9)
    channels = [None, 1, 3, 3, 4, 5, 2][b.int(0, 6)]
    dtype = [np.uint8, np.float32, np.uint8, np.float32, np.float64, np.int16, np.bool_][b.int(0, 6)] if kind else np.uint8
    shape = (h, w) if channels is None else (h, w, channels)
    rng = np.random.default_rng(b.int(0, 255))
    base = (rng.random((2 * h + 1, 2 * w + 1) + shape[2:]) * 255)
    view = b.int(0, 4)
    if view == 0:
        img = base[:h, :w]
    elif view == 1:
        img = base[::2, ::2][:h, :w]               # strided
    elif view == 2:
        img = base[::-1, ::-1][:h, :w]             # negative strides
    elif view == 3:
        img = np.swapaxes(base[:w, :h], 0, 1)      # transposed (F-order-like)
    else:
        img = base[:h, ::-2][:, :w]
    img = img.astype(dtype) if dtype is not np.uint8 else np.asarray(img).astype(np.uint8)
    if view in (1, 2, 4):                          # keep the view's strides after the cast
        big = np.empty((2 * h + 1, 2 * w + 1) + shape[2:], img.dtype)
        tgt = {1: big[::2, ::2][:h, :w], 2: big[::-1, ::-1][:h, :w], 4: big[:h, ::-2][:, :w]}[view]
        tgt[...] = img
        img = tgt
    if b.int(0, 12) == 0:
        img = img[:0]                              # empty
    levels = b.int(0, 8)
    scale = [1.0, 1 / 255.0, 0.5, -2.0][b.int(0, 3)]
    out_mode = b.int(0, 5)                         # 0,1: none; 2: right out; 3: wrong out; 4: junk item; 5: junk out
    junk_arg = b.int(0, 11)                        # 0-2: that argument (image, levels, scale) is junk
    return img, levels, scale, out_mode, junk_arg, junk(b)


def junk(b: Bytes):
    """Any Python object a caller could pass by mistake."""
    f32 = np.zeros((4, 4), np.float32)
    ro = f32.copy()
    ro.flags.writeable = False
    options = [None, 1, -7, 1.5, float("nan"), np.float32(0), np.int64(3), b"x" * 256, memoryview(b"abcd"),
               "abc", [1, 2], {"a": 1}, (f32,), np.zeros((4, 4)), f32[:, ::2], ro, object(), 10 ** 30,
               np.zeros((4, 4), np.float32).T, bytearray(64)]
    return options[b.int(0, len(options) - 1)]


def valid(img, levels):
    return (img.dtype in (np.uint8, np.float32) and img.ndim in (2, 3) and img.size > 0
            and (img.ndim == 2 or 1 <= img.shape[2] <= 4) and 1 <= levels)


def run_junk(mod, img, levels, scale, out_mode, junk_arg, thing):
    """One argument (or one out item, or out itself) is an arbitrary object: refused, no crash."""
    args = [img, levels, scale, None]
    if junk_arg <= 2:
        args[junk_arg] = thing
    elif out_mode == 5:
        args[3] = thing
    else:
        c = 1 if img.ndim == 2 else img.shape[2]
        shapes = level_shapes(img.shape[0], img.shape[1], max(levels, 1))
        out = [np.empty((1, hh, ww, c), np.float32) for hh, ww in shapes]
        out[junk_arg % len(out)] = thing
        args[1], args[3] = max(levels, 1), out
    try:
        mod.pyramid_down(*args)
    except (ValueError, TypeError, OverflowError):
        return "refused"
    if junk_arg > 2 and out_mode == 5 and thing is None:
        return "ok"    # out=None: no caller buffers
    if junk_arg in (1, 2) and isinstance(thing, (int, float, np.integer, np.floating)):
        return "ok"    # a number where a number goes (levels 1 / 3, a scale) may be accepted
    if junk_arg == 0 and isinstance(thing, np.ndarray) and valid(thing, args[1] if isinstance(args[1], int) else 0):
        return "ok"    # an array that is a valid image (non-contiguous and read-only views are fine)
    raise AssertionError(f"junk accepted: argument {junk_arg} out_mode {out_mode} = {type(thing).__name__}")


def run_case(mod, img, levels, scale, out_mode, junk_arg, thing):
    if out_mode >= 4 and img.ndim in (2, 3) and img.size > 0:
        return run_junk(mod, img, levels, scale, out_mode, junk_arg, thing)
    out = None
    if out_mode >= 2 and img.ndim in (2, 3) and img.size > 0 and levels >= 1:
        c = 1 if img.ndim == 2 else img.shape[2]
        shapes = level_shapes(img.shape[0], img.shape[1], levels)
        out = [np.empty((1, hh, ww, c), np.float32) for hh, ww in shapes]
        if out_mode == 3:
            out[-1] = np.empty((1, shapes[-1][0] + 1, shapes[-1][1], c), np.float32)
    threads = 1 + (img.shape[0] % 3 if img.ndim else 0)   # the banded multi-thread path too
    try:
        res = mod.pyramid_down(img, levels, scale, out, threads)
    except (ValueError, TypeError):
        if valid(img, levels) and out_mode != 3 and levels <= 16:
            raise AssertionError(f"valid input refused: {img.dtype} {img.shape} levels {levels}")
        return "refused"
    if not valid(img, levels) or out_mode == 3:
        raise AssertionError(f"invalid input accepted: {img.dtype} {img.shape} levels {levels} out {out_mode}")
    ref = _pyramid_numpy(np.ascontiguousarray(img), levels, scale)
    for k, (a, r) in enumerate(zip(res, ref)):
        a = np.asarray(a).reshape(r.shape)
        err = float(np.abs(a - r).max()) if r.size else 0.0
        tol = 1e-5 * max(1.0, float(np.abs(r).max()) if r.size else 1.0)   # float32 rounding, relative
        if err > tol:
            raise AssertionError(f"level {k} differs by {err} for {img.dtype} {img.shape} levels {levels}")
    return "ok"


def main():
    mod = load(sys.argv[1])
    mode, n = sys.argv[2], int(sys.argv[3])
    counts = {"ok": 0, "refused": 0}
    if mode == "random":
        rng = np.random.default_rng(int(sys.argv[4]) if len(sys.argv) > 4 else 0)
        for _ in range(n):
            counts[run_case(mod, *make_case(Bytes(rng=rng)))] += 1
        print(f"{n} cases: {counts['ok']} computed and matched the reference, {counts['refused']} refused")
        return
    import atheris

    def one(data):
        run_case(mod, *make_case(Bytes(data=data)))
    atheris.instrument_func(make_case)
    atheris.instrument_func(run_case)
    atheris.Setup([sys.argv[0], f"-runs={n}", "-max_len=64", "-seed=1"], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
