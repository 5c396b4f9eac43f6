"""Quality benchmark: PSNR / SSIM of every shipped model (each file: float32, int8, ...) beside
OpenCV non-local means, BM3D and the noisy input, on Set12, BSD68 (gray) and CBSD68, Kodak24
(colour), at several sigmas, seed 0, with seconds per megapixel.

Two noise protocols: `camera` (noisy image rounded and clipped to uint8: what the runtime
really receives; the headline) and `float` (unclipped float noise, the papers' protocol; the
models and NLM then see the image clipped to what uint8 can hold, BM3D the float image).
NLM (template 7, search 21): gray h = 1.0 sigma, the best of {0.6, 0.8, 1.0, 1.2} sigma on
Set12 at sigma 25 (23.2 / 27.2 / 27.8 / 26.9 dB); colour h = hColor = 0.6 sigma, the best of
{0.4, 0.6, 0.8, 1.0} x {0.6, 1.0} sigma on the first 4 CBSD68 images at sigma 25 (26.3 dB vs
25.0 at 0.8). Tuned at sigma 25 only and applied at every sigma. BM3D: the `bm3d` package with the true sigma; slow (~1-2 min per megapixel
here), so it runs on the first --bm3d-images images of each set, and its row says so.
Models run once per frame unless --ensembles asks for self-ensemble rows too (N passes over
flipped / rotated copies, averaged; s / MP is then N passes' time).
Real camera noise: --protocols real runs benchmarks/real_photos.py (PolyU100) into its own section.
Usage: python benchmarks/quality.py [--sets ...] [--sigmas ...] [--limit N] [--bm3d-images N] [--ensembles 1 2]
"""
import argparse
import os
import sys
import time
from collections import defaultdict

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import real_photos  # noqa: E402
from benchmarks.report import publish, table  # noqa: E402
import bfcnn  # noqa: E402
from bfcnn.evaluation import add_noise, as_uint8, bm3d, load_set, psnr, ssim  # noqa: E402
from bfcnn.runtime import Denoiser  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def methods(args):
    out = {}
    for name in args.models or bfcnn.list_models():
        for q in sorted(bfcnn.zoo.resolve(name).quantization):
            for n in args.ensembles:
                den = Denoiser(name, num_threads=args.threads, quantization=q, ensemble=n)
                label = f"{name} ({q})" if n == 1 else f"{name} ({q}, x{n})"
                out[label] = (lambda d: (lambda noisy, sigma: d(as_uint8(noisy))))(den)
        if name in args.shuffle:   # --shuffle NAME ... (benchmarks/real_photos.py's option)
            den = Denoiser(name, num_threads=args.threads, shuffle=True)
            out[f"{name} (none, shuffle)"] = (lambda d: (lambda noisy, sigma: d(as_uint8(noisy))))(den)

    def nlm(noisy, sigma):
        img = as_uint8(noisy)
        if img.ndim == 2:
            return cv2.fastNlMeansDenoising(img, None, 1.0 * sigma, 7, 21)
        return cv2.fastNlMeansDenoisingColored(img, None, 0.6 * sigma, 0.6 * sigma, 7, 21)
    out["OpenCV NLM"] = nlm
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sets", nargs="+", default=["Set12", "BSD68", "CBSD68", "Kodak24"])
    p.add_argument("--sigmas", nargs="+", type=float, default=[5, 15, 25, 50, 75])
    p.add_argument("--protocols", nargs="+", default=["camera", "float"], choices=["camera", "float", "real"],
                   help="real: PolyU100 real camera noise (benchmarks/real_photos.py), its own section")
    p.add_argument("--limit", type=int, default=0, help="first N images per set (0 = all)")
    p.add_argument("--bm3d-images", type=int, default=3, help="BM3D on the first N images (0 = skip)")
    p.add_argument("--bm3d-sigmas", nargs="*", type=float, default=None,
                   help="sigmas at which BM3D runs (default: all; it costs ~1-2 min per megapixel)")
    p.add_argument("--models", nargs="*", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ensembles", nargs="+", type=int, default=[1], choices=[1, 2, 4, 8],
                   help="self-ensemble passes to run each model file with (Denoiser(ensemble=N)); "
                        "rows 'name (file, xN)'")
    p.add_argument("--no-write", action="store_true", help="print the table only: no RESULTS.md, no plots")
    p.add_argument("--plot-suffix", default="", help="plots go to quality_psnr_vs_{sigma,fps}SUFFIX.png "
                                                      "(a partial run need not replace the full run's plots)")
    real_photos.add_arguments(p)
    args = p.parse_args()
    if "real" in args.protocols:
        real_photos.run(args)
        args.protocols = [x for x in args.protocols if x != "real"]
        if not args.protocols:
            return
    runners = methods(args)
    # results[(protocol, set, sigma, method)] -> list of (psnr, ssim), seconds, megapixels
    res = defaultdict(lambda: {"psnr": [], "ssim": [], "seconds": 0.0, "mp": 0.0})
    for protocol in args.protocols:
        for set_name in args.sets:
            images = load_set(set_name, args.limit)
            for sigma in args.sigmas:
                rng = np.random.default_rng(0)
                for i, clean in enumerate(images):
                    noisy = add_noise(clean, sigma, rng, protocol)
                    mp = clean.shape[0] * clean.shape[1] / 1e6
                    todo = dict(runners)
                    todo["noisy input"] = lambda n, s: np.clip(n, 0, 255)
                    if i < args.bm3d_images and (args.bm3d_sigmas is None or sigma in args.bm3d_sigmas):
                        todo[f"BM3D (first {args.bm3d_images})"] = bm3d
                        todo[f"noisy input (first {args.bm3d_images})"] = lambda n, s: np.clip(n, 0, 255)
                        for name in runners:
                            todo[f"{name} (first {args.bm3d_images})"] = runners[name]
                    for name, fn in todo.items():
                        t = time.perf_counter()
                        out = fn(noisy, sigma)
                        r = res[(protocol, set_name, sigma, name)]
                        r["seconds"] += time.perf_counter() - t
                        r["mp"] += mp
                        r["psnr"].append(psnr(out, clean))
                        if "first" not in name or name.startswith("BM3D"):
                            r["ssim"].append(ssim(np.asarray(out), clean))
                print(f"{protocol} {set_name} sigma {sigma:g} done", file=sys.stderr, flush=True)
    rows = []
    for (protocol, set_name, sigma, name), r in sorted(res.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3])):
        rows.append([protocol, set_name, int(sigma), name, len(r["psnr"]), round(float(np.mean(r["psnr"])), 2),
                     round(float(np.mean(r["ssim"])), 4) if r["ssim"] else "", round(r["seconds"] / r["mp"], 3)])
    body = table(["protocol", "set", "sigma", "method", "images", "PSNR dB", "SSIM", "s / MP"], rows)
    if args.no_write:
        print(body)
    else:
        _plot(res, args)
        scope = "all images" if args.limit == 0 else f"first {args.limit} images"
        passes = "" if args.ensembles == [1] else f", self-ensemble x{'/'.join(map(str, args.ensembles))}"
        publish(f"Quality: {' / '.join(args.sets)}, sigma {' / '.join(f'{x:g}' for x in args.sigmas)}, "
                f"{scope} ({' + '.join(args.protocols)} noise{passes})", body,
                "Rows '(first N)' compare every method with BM3D on the same N images. "
                f"Plots: benchmarks/quality_psnr_vs_sigma{args.plot_suffix}.png, "
                f"benchmarks/quality_psnr_vs_fps{args.plot_suffix}.png.")


def _plot(res, args) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sets = args.sets
    fig, axes = plt.subplots(1, len(sets), figsize=(4.5 * len(sets), 4), squeeze=False)
    protocol = args.protocols[0]
    for ax, set_name in zip(axes[0], sets):
        names = sorted({k[3] for k in res if k[0] == protocol and k[1] == set_name and "first" not in k[3]})
        for name in names:
            ys = [np.mean(res[(protocol, set_name, s, name)]["psnr"]) for s in args.sigmas]
            ax.plot(args.sigmas, ys, marker="o", label=name)
        ax.set_title(f"{set_name} ({protocol} noise)")
        ax.set_xlabel("noise sigma (0-255)")
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, f"quality_psnr_vs_sigma{args.plot_suffix}.png"), dpi=90)
    # quality per millisecond: PSNR at sigma 25 against frames/s at 640x480 (from s / MP)
    sigma = 25.0 if 25.0 in args.sigmas else args.sigmas[len(args.sigmas) // 2]
    fig, axes = plt.subplots(1, len(sets), figsize=(4.5 * len(sets), 4), squeeze=False)
    for ax, set_name in zip(axes[0], sets):
        for key, r in res.items():
            if key[:3] != (protocol, set_name, sigma) or r["seconds"] <= 0 or key[3].startswith("noisy"):
                continue
            fps = 1.0 / (r["seconds"] / r["mp"] * 0.3072)
            ax.scatter(fps, np.mean(r["psnr"]), label=key[3])
            ax.annotate(key[3], (fps, np.mean(r["psnr"])), fontsize=6)
        ax.set_xscale("log")
        ax.set_title(f"{set_name}, sigma {sigma:g} ({protocol})")
        ax.set_xlabel("frames/s at 640x480 (2 threads, from s per MP)")
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, f"quality_psnr_vs_fps{args.plot_suffix}.png"), dpi=90)


if __name__ == "__main__":
    main()
