"""Video denoising: frame averaging against denoising each frame alone, on scenes built from
the colour test images (bfcnn/video_scenes.py: static, slow pan, hand-held shake, a moving
object on a still background, a cut), with fresh noise every frame.

In the same run: the single-frame realtime model, frame averaging before the single-frame model
(bfcnn.runtime.averaging), a plain running average
of the noisy frames (exponential, 0.8 old + 0.2 new: what averaging without motion handling
does to motion), OpenCV fastNlMeansDenoisingColoredMulti (5-frame window, centred: it also
looks 2 frames ahead, which a live stream cannot; best h of 0.5 / 0.7 / 0.9 x the noise std) on
frame 10 of the first image's scenes, and CBM3D (one frame per static / slow-pan scene at sigma
25). A peer run on some frames only is compared with our methods on exactly those frames (rows
marked [NLM's frames], [CBM3D's frames]). Noise: Gaussian at each --noises, and a synthetic camera
(the trainer's camera-noise pipeline at one phone-like high-ISO setting, JPEG q90; one camera per
sequence, fresh sensor noise per frame). PSNR is the mean over frames 5 .. end ("after 5");
"first" is frame 0 (no past yet), "after cut" the two frames after the cut; flicker: the mean over
pixels of the temporal std of the output error on the static scene, grey levels.
Speed at 640x480 colour, 2 threads, measured interleaved in the same run.

    python benchmarks/video.py                       # writes its section of RESULTS.md
    python benchmarks/video.py --still-real          # the still scene with real camera noise

--still-real: a still scene with a real camera's noise on each of 16 frames, against the
plain mean of the same 16 frames and the still model on that mean (the oracles a still camera
allows), and the single-frame model on every frame. The noise of a frame is a PolyU100 pair's
residual (noisy - reference), two ways:
- moved (bfcnn.evaluation.residual_stream): the whole residual at a fresh offset each frame.
  The reference is not exactly registered with the noisy shot, so the residual also holds the
  scene's edges; moved, they are edges that move from frame to frame, which a motion gate
  rightly refuses to average;
- flat blocks (bfcnn.evaluation.flat_noise_stream): 32 px blocks of the residual from where
  the reference is flat, each placed where the intensity matches: the camera's level per
  intensity and its correlation, without the pair's edges.
Beside them the same on residuals synthesized from training images (the trainer's camera-noise
pipeline on CBSD432), on which frame averaging's constants were set: PolyU100 is evaluation only.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Dict, List

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.report import publish, table  # noqa: E402
from bfcnn.evaluation import add_noise, bm3d, load_set, psnr  # noqa: E402
from bfcnn.runtime import AveragingDenoiser, Denoiser  # noqa: E402
from bfcnn.video_scenes import SCENES, scene  # noqa: E402

NLM_H_FACTORS = (0.5, 0.7, 0.9)   # NLM multi's h, x the noise std: the best of these is reported
PLOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "video_psnr_per_frame.png")


def noisy_frames(clean: List[np.ndarray], noise: str, seed: int):
    """Fresh noise per frame; one camera per sequence for noise 'camera'. Returns (targets, noisy)."""
    rng = np.random.default_rng(seed)
    if noise == "camera":
        from bfcnn.config import CameraNoiseConfig
        from bfcnn.trainer.data.camera_noise import camera_pair
        cfg = CameraNoiseConfig(fraction=1.0, shot_noise=[4e-3, 4e-3], isp_denoise_fraction=0.0,
                                jpeg_fraction=1.0, jpeg_quality=[90, 90], tone_curve_fraction=0.0)
        pairs = [camera_pair(c, cfg, np.random.default_rng(seed), noise_rng=np.random.default_rng([seed, t]))
                 for t, c in enumerate(clean)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    return clean, [add_noise(c, float(noise), rng) for c in clean]


def _ema(noisy: List[np.ndarray]) -> List[np.ndarray]:
    out, acc = [], None
    for y in noisy:
        acc = y.astype(np.float32) if acc is None else 0.8 * acc + 0.2 * y
        out.append(np.clip(np.rint(acc), 0, 255).astype(np.uint8))
    return out


def _nlm_multi(noisy: List[np.ndarray], t: int, h: float) -> np.ndarray:
    t = min(max(t, 2), len(noisy) - 3)
    return cv2.fastNlMeansDenoisingColoredMulti(noisy[t - 2:t + 3], 2, 5, None, h, h, 7, 21)


def evaluate(args) -> Dict:
    images = load_set("Kodak24", limit=args.images + 1)
    still = Denoiser(args.still, num_threads=args.threads)
    averaging = AveragingDenoiser(args.still, num_threads=args.threads)
    avg_name = "frame averaging + " + averaging.card.name
    rows, curves = {}, {}
    for noise in args.noises:
        for name in SCENES:
            acc: Dict[str, List[float]] = {}
            for i in range(args.images):
                landscape = [im if im.shape[1] >= im.shape[0] else np.ascontiguousarray(np.rot90(im))
                             for im in (images[i], images[i + 1])]
                clean = scene(name, landscape[0], landscape[1], frames=args.frames, seed=i)
                targets, noisy = noisy_frames(clean, noise, seed=1000 * i + 7)
                averaging.reset()
                outs = {"single-frame " + still.card.name: [still(y) for y in noisy],
                        avg_name: [averaging(y) for y in noisy],
                        "running average": _ema(noisy)}
                for method, frames in outs.items():
                    p = [psnr(o, c) for o, c in zip(frames, targets)]
                    acc.setdefault(method + "|after5", []).append(float(np.mean(p[5:])))
                    acc.setdefault(method + "|first", []).append(p[0])
                    if name == "cut":
                        k = args.frames // 2
                        acc.setdefault(method + "|cut", []).append(float(np.mean(p[k:k + 2])))
                    if name == "static":
                        err = np.stack([o.astype(np.float32) - c for o, c in zip(frames[5:], targets[5:])])
                        acc.setdefault(method + "|flicker", []).append(float(err.std(axis=0).mean()))
                    curves.setdefault((noise, name, method), []).append(p)
                acc.setdefault("noisy|after5", []).append(float(np.mean([psnr(y, c) for y, c in zip(noisy[5:], targets[5:])])))
                def on_subset(tag: str, ts: List[int], peer: str, peer_psnrs: List[float]) -> None:
                    """A peer run on some frames only: it and ours on exactly those frames."""
                    acc.setdefault(f"{peer} [{tag}]|after5", []).append(float(np.mean(peer_psnrs)))
                    for method in ("single-frame " + still.card.name, avg_name):
                        acc.setdefault(f"{method} [{tag}]|after5", []).append(
                            float(np.mean([psnr(outs[method][t], targets[t]) for t in ts])))
                if args.nlm_frames and i < args.nlm_images:
                    sigma = float(np.std(noisy[0].astype(np.float32) - targets[0]))
                    ts = [min(max(t, 2), args.frames - 3) for t in args.nlm_frames]
                    best = max(([psnr(_nlm_multi(noisy, t, f * sigma), targets[t]) for t in ts]
                                for f in NLM_H_FACTORS), key=np.mean)
                    on_subset("NLM's frames", ts, "OpenCV NLM multi (5 frames, centred, best h)", best)
                if args.bm3d and noise == "25" and name in ("static", "slow_pan") and i < args.bm3d_images:
                    t = args.frames // 2
                    on_subset("CBM3D's frames", [t], "CBM3D (one frame, sigma 25)", [psnr(bm3d(noisy[t], 25.0), targets[t])])
            rows[(noise, name)] = {k: float(np.mean(v)) for k, v in acc.items()}
            print(noise, name, {k: round(v, 2) for k, v in rows[(noise, name)].items()}, flush=True)
    return {"rows": rows, "curves": curves, "speed": speed(args, still, averaging)}


def speed(args, still, averaging) -> Dict:
    """ms per 640x480 colour frame (median, interleaved), NLM colour for the ratio, and frame
    averaging's end-to-end latency on a live 30 fps synthetic camera."""
    from bfcnn.runtime.cameras import SyntheticCamera
    from bfcnn.runtime.pipeline import named, run_stream
    rng = np.random.default_rng(0)
    base = cv2.resize(load_set("Kodak24", limit=1)[0], (640, 480), interpolation=cv2.INTER_AREA)
    frames = [add_noise(base, 20.0, rng) for _ in range(8)]
    averaging.reset()
    t_still, t_avg, t_nlm = [], [], []
    for k in range(args.speed_frames):
        f = frames[k % len(frames)]
        t0 = time.perf_counter()
        still(f)
        t1 = time.perf_counter()
        averaging(f)
        t_still.append(t1 - t0)
        t_avg.append(time.perf_counter() - t1)
    for _ in range(3):
        t0 = time.perf_counter()
        cv2.fastNlMeansDenoisingColored(frames[0], None, 10, 10, 7, 21)
        t_nlm.append(time.perf_counter() - t0)
    averaging.reset()
    live = run_stream(named(SyntheticCamera(640, 480, 30.0, count=args.speed_frames).frames(), "live"),
                      averaging, [], live=True)
    ms = {k: 1000 * float(np.median(v)) for k, v in (("still", t_still), ("avg", t_avg), ("nlm", t_nlm))}
    return {**ms, "latency_p95": live.latency_ms_p95, "dropped": live.dropped, "processed": live.processed}


def plot(curves: Dict, noise: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(SCENES), figsize=(4 * len(SCENES), 3.2), sharey=False)
    for ax, name in zip(axes, SCENES):
        for (n, s, method), ps in curves.items():
            if n == noise and s == name:
                ax.plot(np.mean(ps, axis=0), label=method)
        ax.set_title(f"{name}, noise {noise}")
        ax.set_xlabel("frame")
    axes[0].set_ylabel("PSNR dB")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=80)


def render(result: Dict) -> str:
    rows = []
    for (noise, name), r in result["rows"].items():
        methods = sorted({k.split("|")[0] for k in r}, key=lambda m: ("[" in m, m))
        for m in methods:
            tag = m[m.index("["):] if "[" in m else ""
            single = next(k.split("|")[0] for k in r if k.startswith("single-frame") and k.split("|")[0].endswith(tag))
            rows.append([noise, name, m, r.get(m + "|after5", float("nan")),
                         r.get(m + "|after5", float("nan")) - r[single + "|after5"],
                         r.get(m + "|first", float("nan")), r.get(m + "|cut", float("nan")),
                         r.get(m + "|flicker", float("nan"))])
    body = table(["noise", "scene", "method", "PSNR after 5", "vs single-frame", "first frame",
                  "2 frames after cut", "flicker"], rows)
    sp = result["speed"]
    body += "\n\n" + table(["640x480 colour, 2 threads", "ms / frame", "vs single-frame", "x NLM colour"], [
        ["single-frame", sp["still"], 1.0, sp["nlm"] / sp["still"]],
        ["frame averaging + single-frame", sp["avg"], sp["avg"] / sp["still"], sp["nlm"] / sp["avg"]],
        ["OpenCV NLM colour (7/21, one frame)", sp["nlm"], sp["nlm"] / sp["still"], 1.0]])
    body += (f"\n\nFrame averaging live on a 30 fps synthetic camera: latency p95 {sp['latency_p95']:.0f} ms, "
             f"{sp['processed']} processed, {sp['dropped']} dropped.")
    return body


def _synthetic_residuals(count: int):
    """(name, clean, residual) from CBSD432 crops through the trainer's camera pipeline."""
    from bfcnn.config import CameraNoiseConfig
    from bfcnn.evaluation import set_folder
    from bfcnn.trainer.data.camera_noise import camera_pair
    folder = set_folder("CBSD432")
    out = []
    for i, f in enumerate(sorted(os.listdir(folder))[:count]):
        target, noisy = camera_pair(cv2.imread(os.path.join(folder, f))[:320, :320],
                                    CameraNoiseConfig(fraction=1.0), np.random.default_rng(i))
        out.append((f, target, noisy.astype(np.float32) - target))
    return out


def still_real(args) -> str:
    from bfcnn.evaluation import flat_noise_stream, real_pairs, residual_stream
    polyu = [(n, ref, noisy.astype(np.float32) - ref) for n, noisy, ref in real_pairs()][::args.real_step]
    synthetic = _synthetic_residuals(args.synthetic_pairs)
    # (label, pairs, how a pair's residual becomes 16 frames of noise)
    sets = [("PolyU100 residuals, moved", polyu, residual_stream),
            ("PolyU100 residuals, flat blocks", polyu, flat_noise_stream),
            ("synthetic camera residuals (CBSD432), moved", synthetic, residual_stream),
            ("synthetic camera residuals (CBSD432), flat blocks", synthetic, flat_noise_stream)]
    rows = []
    for still_name in args.stills:
        avg = AveragingDenoiser(still_name, num_threads=args.threads)
        still = avg.still
        for label, pairs, make in sets:
            acc = []
            for k, (name, clean, residual) in enumerate(pairs):
                frames = make(clean, residual, args.still_frames, seed=k)
                avg.reset()
                outs = [avg(y) for y in frames]
                single = [psnr(still(y), clean) for y in frames]
                mean = np.clip(np.rint(np.mean([y.astype(np.float32) for y in frames], axis=0)), 0, 255).astype(np.uint8)
                p_mean, p_still_mean, p_stream = psnr(mean, clean), psnr(still(mean), clean), psnr(outs[-1], clean)
                acc.append([psnr(frames[-1], clean), single[-1], p_stream, p_mean, p_still_mean,
                            max(p_mean, p_still_mean) - p_stream,
                            min(psnr(o, clean) - s for o, s in zip(outs, single)), float(np.mean(avg._average.count))])
                print(still_name, label, name, np.round(acc[-1], 2), flush=True)
            a = np.asarray(acc)
            m = a.mean(axis=0)
            rows.append([still_name, label, len(pairs), m[0], m[1], m[2], m[3], m[4], m[5], float(a[:, 5].max()),
                         float(a[:, 6].min()), m[7]])
    quality = table(["still model", "noise", "scenes", "noisy", "single-frame", f"stream at frame {args.still_frames}",
                     f"mean of {args.still_frames}", "still model on the mean", "best oracle - stream (mean)",
                     "(worst scene)", "worst frame vs single-frame", "frames held (mean)"], rows)
    return quality + "\n\n" + still_speed(args)


def still_speed(args) -> str:
    """ms per 640x480 colour frame (median of interleaved runs) of each still model alone and
    behind frame averaging on a still scene, with OpenCV's colour NLM (h 10, 7 / 21) in the same
    run for the ratio."""
    rng = np.random.default_rng(0)
    base = cv2.resize(load_set("Kodak24", limit=1)[0], (640, 480), interpolation=cv2.INTER_AREA)
    frames = [add_noise(base, 10.0, rng) for _ in range(8)]
    pairs = [(Denoiser(n, num_threads=args.threads), AveragingDenoiser(n, num_threads=args.threads)) for n in args.stills]
    times = {n: ([], []) for n in args.stills}
    nlm = []
    for k in range(args.speed_frames):
        f = frames[k % len(frames)]
        for n, (still, avg) in zip(args.stills, pairs):
            t0 = time.perf_counter()
            still(f)
            t1 = time.perf_counter()
            avg(f)
            times[n][0].append(t1 - t0)
            times[n][1].append(time.perf_counter() - t1)
        if k % 20 == 0:
            t0 = time.perf_counter()
            cv2.fastNlMeansDenoisingColored(f, None, 10, 10, 7, 21)
            nlm.append(time.perf_counter() - t0)
    t_nlm = 1000 * float(np.median(nlm))
    rows = []
    for n in args.stills:
        single, stream = (1000 * float(np.median(v)) for v in times[n])
        rows.append([n, single, stream, stream / single, t_nlm / single, t_nlm / stream])
    return table(["still model (640x480 colour)", "single-frame ms", "stream ms", "stream / single-frame",
                  "NLM colour / single-frame", "NLM colour / stream"], rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--still", default="edge_color_realtime")
    p.add_argument("--images", type=int, default=3, help="Kodak24 images (each with the next as its other)")
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--noises", nargs="+", default=["15", "25", "50", "camera"])
    p.add_argument("--nlm-frames", type=int, nargs="*", default=[10], help="frames where NLM multi runs")
    p.add_argument("--nlm-images", type=int, default=1,
                   help="NLM multi on the first N images only (~20 s per 640x480 colour frame)")
    p.add_argument("--bm3d", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--bm3d-images", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--speed-frames", type=int, default=120)
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--still-real", action="store_true", help="only the still scene with real camera noise")
    p.add_argument("--still-frames", type=int, default=16)
    p.add_argument("--stills", nargs="+", default=["edge_color_realtime", "edge_color_noisemap"],
                   help="--still-real: the still models behind frame averaging, one stream each")
    p.add_argument("--real-step", type=int, default=5, help="every Nth PolyU100 pair")
    p.add_argument("--synthetic-pairs", type=int, default=8)
    args = p.parse_args()
    if args.still_real:
        body = still_real(args)
        if args.no_write:
            print(body)
        else:
            publish("Video: a still scene with real camera noise", body,
                    f"{args.still_frames} frames; PSNR in dB against the pair's reference; the oracles "
                    "are the plain mean of the same frames and the still model on it; the stream is "
                    "frame averaging + the still model (edge_color_realtime: the default; "
                    "edge_color_noisemap is told the noise the stream measured over each pixel's "
                    "frame count). Worst frame: the stream's lowest "
                    "PSNR over the single-frame model's on the same frame, over all frames and scenes. "
                    "Moved: a pair's whole residual at a fresh offset each frame, the pair's edges "
                    "included (its reference is not exactly registered with the noisy shot), which "
                    "move from frame to frame; flat blocks: blocks of the residual from where the "
                    "reference is flat, placed by intensity (bfcnn.evaluation.flat_noise_stream): "
                    "the camera's noise without the pair's edges.")
        return
    result = evaluate(args)
    body = render(result)
    if args.no_write:
        print(body)
        return
    plot(result["curves"], "25")
    publish("Video: frame averaging vs single frame", body,
            "Kodak24 scenes at 640x480 (bfcnn/video_scenes.py), "
            f"{args.images} images x {args.frames} frames per scene and noise. Plot: "
            "benchmarks/video_psnr_per_frame.png (sigma 25).")


if __name__ == "__main__":
    main()
