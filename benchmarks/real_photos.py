"""Quality on real camera noise: PolyU100 (real noisy shot vs the mean of ~500 shots), photos
as the cameras wrote them. Every shipped model file (colour models on the colour pairs, gray
models on their luma), extra model folders given with --baseline, OpenCV non-local means with
h swept (every h is a row; the best is marked), CBM3D / BM3D with sigma swept on a fixed subset
(every --bm3d-every'th pair, so all five cameras are in it), and the noisy input. PolyU100 is
for evaluation only: nothing here trains or tunes weights.
Usage: python benchmarks/real_photos.py [--limit N] [--bm3d-every K] [--baseline DIR ...] [--no-write]
(also reached as python benchmarks/quality.py --protocols real)
"""
import argparse
import json
import os
import sys
import time
from collections import defaultdict

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.report import publish, table  # noqa: E402
import bfcnn  # noqa: E402
from bfcnn.evaluation import bm3d, psnr, real_pairs, ssim  # noqa: E402
from bfcnn.runtime import Denoiser, noise  # noqa: E402

NLM_H = (2, 3, 4, 5, 6, 8)
BM3D_SIGMAS = (4, 6, 8, 12)


def model_runners(names, labels, threads: int, shuffle=()):
    """{label: (channels, fn(uint8 image) -> uint8 image)} for each file of each model, and each
    model of `shuffle` (float file) with pixel-shuffle downsampling (Denoiser(shuffle=True)).
    Noise-conditioned models run blind (each photo's own estimate) and, as "camera profile",
    told the profile a user who calibrated that camera would have (CameraProfiled)."""
    out = {}
    for name, label in zip(names, labels):
        card = bfcnn.zoo.resolve(name)
        for q in sorted(card.quantization):
            den = Denoiser(name, num_threads=threads, quantization=q)
            out[f"{label} ({q})"] = (card.channels, den)
            if card.noise_input:
                out[f"{label} ({q}, camera profile)"] = (card.channels, CameraProfiled(
                    Denoiser(name, num_threads=threads, quantization=q)))
        if name in shuffle:
            out[f"{label} (none, shuffle)"] = (card.channels, Denoiser(name, num_threads=threads, shuffle=True))
    return out


class CameraProfiled:
    """A noise-conditioned Denoiser told its camera's profile, as a user who calibrated the camera
    would be: measured (noise.from_pair) on the other pairs of the same camera, the one at the
    nearest ISO picked like a live camera's analogue gain (noise.nearest); never on the photo
    itself. PolyU100 names read camera_aperture_shutter_ISO_scene_index."""

    def __init__(self, den: Denoiser):
        self.den = den
        self.profiles = {}       # pair name -> (camera, ISO, profile), for one pass (colour or gray)

    def calibrate(self, pairs) -> None:
        self.profiles = {}
        for name, noisy, ref in pairs:
            camera, iso = name.split("_")[0], float(name.split("_")[3])
            self.profiles[name] = (camera, iso, noise.from_pair(noisy, ref, camera, {"gain": iso}))

    def __call__(self, img, pair: str):
        camera, iso, _ = self.profiles[pair]
        others = [p for n, (c, _, p) in self.profiles.items() if c == camera and n != pair]
        self.den.noise = noise.nearest(others, {"gain": iso})
        return self.den(img)


def nlm(h: float):
    def run(img):
        if img.ndim == 2:
            return cv2.fastNlMeansDenoising(img, None, h, 7, 21)
        return cv2.fastNlMeansDenoisingColored(img, None, h, h, 7, 21)
    return run


def evaluate(args) -> str:
    names = list(args.models or bfcnn.list_models())
    labels = list(names)
    for path in args.baseline:
        names.append(path)
        labels.append("baseline " + os.path.basename(os.path.normpath(path)))
    runners = model_runners(names, labels, args.threads, args.shuffle)
    res = defaultdict(lambda: {"psnr": [], "ssim": [], "seconds": 0.0, "mp": 0.0})
    cache = _load_cache(args.peer_cache)
    for gray in (False, True):
        kind = "gray (luma)" if gray else "colour"
        pairs = real_pairs(args.limit, gray=gray)
        for _, fn in runners.values():
            if isinstance(fn, CameraProfiled):
                fn.calibrate(pairs)
        todo = {"noisy input": lambda img: img}
        todo.update({label: fn for label, (ch, fn) in runners.items() if (ch == 1) == gray})
        todo.update({f"OpenCV NLM h {h}": nlm(h) for h in NLM_H})
        for i, (pair, noisy, ref) in enumerate(pairs):
            jobs = dict(todo)
            subset = args.bm3d_every > 0 and i % args.bm3d_every == 0
            if subset:
                for s in BM3D_SIGMAS:
                    jobs[f"{'BM3D' if gray else 'CBM3D'} sigma {s}"] = (lambda img, s=s: bm3d(img, s))
            for label, fn in jobs.items():
                peer = label not in runners     # classical methods do not change: cached
                hit = cache.get(f"{kind}|{pair}|{label}") if peer else None
                if hit is None:
                    t = time.perf_counter()
                    out = np.asarray(fn(noisy, pair) if isinstance(fn, CameraProfiled) else fn(noisy))
                    seconds = time.perf_counter() - t
                    hit = [psnr(out, ref), ssim(out, ref), seconds]
                    if peer:
                        cache[f"{kind}|{pair}|{label}"] = hit
                for key in ([label, f"{label} [subset]"] if subset and "BM3D" not in label else [label]):
                    r = res[(kind, key)]
                    r["psnr"].append(hit[0])
                    r["ssim"].append(hit[1])
                    r["seconds"] += hit[2]
                    r["mp"] += noisy.shape[0] * noisy.shape[1] / 1e6
            _save_cache(args.peer_cache, cache)
            print(f"{kind} {i + 1}/{len(pairs)}", file=sys.stderr, flush=True)
    rows = []
    for kind in ("colour", "gray (luma)"):
        keys = [k for k in res if k[0] == kind]
        for subset in (False, True):
            part = [k for k in keys if ("[subset]" in k[1] or "BM3D" in k[1]) == subset]
            nlm_keys = [k for k in part if k[1].startswith("OpenCV NLM")]
            bm_keys = [k for k in part if "BM3D" in k[1]]
            best = {max(group, key=lambda k: np.mean(res[k]["psnr"])) for group in (nlm_keys, bm_keys) if group}
            for k in sorted(part, key=lambda k: -np.mean(res[k]["psnr"])):
                r = res[k]
                rows.append([kind, "subset" if subset else "all", k[1].replace(" [subset]", "") + (" (best)" if k in best else ""),
                             len(r["psnr"]), round(float(np.mean(r["psnr"])), 2), round(float(np.mean(r["ssim"])), 4),
                             round(r["seconds"] / r["mp"], 3)])
    return table(["pairs", "images", "method", "n", "PSNR dB", "SSIM", "s / MP"], rows)


def _load_cache(path: str) -> dict:
    if not path or not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _save_cache(path: str, cache: dict) -> None:
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(cache, f)
        os.replace(tmp, path)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--peer-cache", default="",
                   help="JSON file keeping the classical peers' results per pair (NLM, BM3D: they do not "
                        "change between runs; their seconds are those of the run that computed them)")
    p.add_argument("--bm3d-every", type=int, default=10,
                   help="(C)BM3D on every K'th pair (0 = skip): it costs ~1-2 min per megapixel per sigma")
    p.add_argument("--shuffle", nargs="*", default=["edge_color_realtime", "edge_gray_realtime"],
                   help="models also run with pixel-shuffle downsampling (Denoiser(shuffle=True))")
    p.add_argument("--baseline", nargs="*", default=[],
                   help="extra model folders or .tflite files to compare (e.g. the models of a previous release)")


def run(args) -> None:
    body = evaluate(args)
    if args.no_write:
        print(body)
        return
    publish("Quality on real camera noise (PolyU100)", body,
            "Rows 'all': every pair (or the first --limit). Rows 'subset': every "
            f"{args.bm3d_every}th pair, where (C)BM3D ran, with every method on the same pairs. "
            "Gray models and gray peers run on the luma of the same pairs. NLM: template 7, search "
            "21, hColor = h. Sorted by PSNR.")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--limit", type=int, default=0, help="first N pairs (0 = all 100)")
    p.add_argument("--models", nargs="*", default=None,
                   help="shipped names or paths (default: every shipped still model)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-write", action="store_true", help="print the table only")
    add_arguments(p)
    run(p.parse_args())


if __name__ == "__main__":
    main()
