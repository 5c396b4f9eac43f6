"""Camera noise profiles: how much noise a camera's frames hold at each intensity, per channel,
and how far it is correlated in space; measured, never assumed.

A camera's noise after demosaicking and its ISP is signal-dependent (sensor shot noise, then
the tone curve) and spatially correlated (demosaicking and the ISP's filters spread each
pixel's noise over its neighbours). A profile records both:

- `std[c][k]`: the noise std of one frame in channel c at intensity `intensity[k]` (the pixel's
  luma), both in the frame's own units ([0, 1] for float frames, uint8 frames divided by 255);
- `correlation[j]`: the noise std after j + 1 area reductions by 2 (2x2 block means, the
  pyramid's steps) over the std white noise of the same level would keep there (std / 2^(j+1)):
  1.0 for white noise; about 2 on demosaicked JPEGs, where 2x2 means keep twice white
  noise's share.

Both scale with the frame: measured on a * y, every intensity and std is a times the one
measured on y, and the correlation is the same (every estimate here is a ratio of medians or a
quantile of the frame's own values), so anything driven by a measured profile stays bias-free.

Where profiles come from:
- a stream's differences where the scene holds still (`StillDifferences`, which frame averaging
  feeds every frame: the noise of two frames is independent in time even where it is
  correlated in space; `AveragingDenoiser.noise`);
- `bfcnn-runtime --calibrate FILE`: a few seconds of a still scene, saved as JSON (`save`, `load`),
  with the camera, size and settings it was measured at (for picamera2: analogue gain and
  exposure from the frame's metadata).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from bfcnn.runtime.frames import in_units, luma as frame_luma

VERSION = 1
BINS = 8                 # intensity bins of a measured profile (quantiles of the frame's luma)
CHI2_MEDIAN = 0.455      # median of a chi-square with 1 degree of freedom: median(d^2) / var(d)
MIN_SAMPLES = 32         # fewer samples in an intensity bin than this: the bin is merged away
SOURCES = ("stream", "calibration", "frame")
SEED_FRAMES = 10         # a saved profile counts as this many measured frames in a stream
WARMUP = 4               # running statistics: frames before a frame's rise is limited
RISE = 1.5               # ... and the most one frame may raise them by, after that
FLAT_SHARE = 0.25        # estimate(): the flattest share of an intensity's blocks
# estimate(): the flattest blocks' median variance over the true noise variance, and the
# block-measured correlation against the true one, as lines in the measured correlation c
# (fitted on CBSD432 crops with white, blurred Gaussian and synthesized camera noise:
# c 0.96 / 1.46 / 1.59 / 1.52 -> bias 1.06 / 0.92 / 0.78 / 0.78, true correlation 1.00 / 1.67 /
# 1.84 / 1.71): correlated noise has fewer independent samples per block, and the plane fit
# takes some of its low frequencies
FLAT_BIAS = (1.06, -0.45)        # bias = 1.06 - 0.45 * (c - 0.96)
FLAT_CORRELATION = (1.0, 1.3)    # true correlation = 1 + 1.3 * (c - 0.96)


@dataclass(frozen=True)
class NoiseProfile:
    """One camera's noise at one setting (see the module docstring for the fields' meaning).

    intensity: K increasing luma values, frame units; std: C rows (1 gray, 3 BGR) of K stds of
    one frame's noise at those intensities, frame units; correlation: std ratios to white
    noise after 1, 2, ... area reductions by 2; camera, size (height, width), settings,
    frames (how many frames it was measured on) and source say where it was measured."""
    intensity: Tuple[float, ...]
    std: Tuple[Tuple[float, ...], ...]
    correlation: Tuple[float, ...] = ()
    camera: str = ""
    size: Tuple[int, int] = (0, 0)
    settings: Dict[str, float] = field(default_factory=dict)
    frames: int = 0
    source: str = "stream"
    version: int = VERSION

    def __post_init__(self) -> None:
        k = len(self.intensity)
        if k == 0 or not self.std or any(len(row) != k for row in self.std):
            raise ValueError(f"a noise profile needs K >= 1 intensities and, per channel, K stds; got "
                             f"{k} intensities and rows of {[len(r) for r in self.std]}")
        if len(self.std) not in (1, 3):
            raise ValueError(f"a noise profile has 1 (gray) or 3 (BGR) channels, got {len(self.std)}")
        values = list(self.intensity) + [v for row in self.std for v in row] + list(self.correlation)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 for v in values):
            raise ValueError("a noise profile's intensities, stds and correlations are finite numbers >= 0")
        if any(b < a for a, b in zip(self.intensity, self.intensity[1:])):
            raise ValueError(f"a noise profile's intensities must increase, got {list(self.intensity)}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")

    @property
    def channels(self) -> int:
        return len(self.std)

    @property
    def sigma(self) -> float:
        """One number: the noise std at the median intensity, mean over channels (frame units)."""
        mid = len(self.intensity) // 2
        return float(np.sqrt(np.mean([row[mid] ** 2 for row in self.std])))

    def variance(self, luma: np.ndarray) -> np.ndarray:
        """The noise variance of one frame, mean over channels, at each luma value (any shape,
        float32, frame units): linear between the profile's intensities, constant beyond."""
        var = np.mean(np.square(np.asarray(self.std, np.float64)), axis=0)
        return np.interp(luma, self.intensity, var).astype(np.float32)

    def std_map(self, frame: np.ndarray) -> np.ndarray:
        """Per-pixel noise std of `frame` (float32 [H, W, C] in [0, 1]), mean over channels:
        float32 [H, W], from each pixel's luma."""
        return np.sqrt(self.variance(frame_luma(frame)))

    def scaled(self, a: float) -> "NoiseProfile":
        """The profile of the same camera's frames multiplied by a > 0 (brighter or darker)."""
        return NoiseProfile(tuple(a * v for v in self.intensity), tuple(tuple(a * v for v in r) for r in self.std),
                            self.correlation, self.camera, self.size, dict(self.settings), self.frames,
                            self.source)

    def channel(self, i: int) -> "NoiseProfile":
        """The profile of channel i alone (a gray model run on each plane of a colour frame)."""
        return NoiseProfile(self.intensity, (self.std[i],), self.correlation, self.camera, self.size,
                            dict(self.settings), self.frames, self.source)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["intensity"], d["size"] = list(self.intensity), list(self.size)
        d["std"], d["correlation"] = [list(r) for r in self.std], list(self.correlation)
        return d

    def save(self, path: str) -> None:
        """Write the profile as JSON (atomically: a crash leaves the old file or the new one)."""
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1)
            f.write("\n")
        os.replace(tmp, path)


def load(path: str) -> NoiseProfile:
    """A profile saved by `NoiseProfile.save` (or `bfcnn-runtime --calibrate`); ValueError naming
    the file and the fix for anything else."""
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except RecursionError:
        raise ValueError(f"{path} is not a noise profile (nested too deeply)") from None
    except FileNotFoundError:
        raise FileNotFoundError(f"noise profile {path} not found; measure one with "
                                f"bfcnn-runtime --calibrate {path} (a few seconds of a still scene)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not a noise profile (not JSON: {e}); measure one with "
                         f"bfcnn-runtime --calibrate") from None
    return from_dict(d, path)


def from_dict(d, where: str = "noise profile") -> NoiseProfile:
    if not isinstance(d, dict):
        raise ValueError(f"{where}: a noise profile is a JSON object, got {type(d).__name__}")
    known = set(NoiseProfile.__dataclass_fields__)
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; a noise profile holds {sorted(known)}")
    if d.get("version", VERSION) != VERSION:
        raise ValueError(f"{where}: profile version {d.get('version')!r}, this bfcnn reads version {VERSION}; "
                         f"measure it again with bfcnn-runtime --calibrate")
    missing = [k for k in ("intensity", "std") if k not in d]
    if missing:
        raise ValueError(f"{where}: missing {missing}")
    lists = {"intensity": d["intensity"], "std": d["std"], "correlation": d.get("correlation", []),
             "size": d.get("size", [0, 0])}
    if not all(isinstance(v, list) for v in lists.values()) or not all(isinstance(r, list) for r in d["std"]) \
            or len(lists["size"]) != 2 or not isinstance(d.get("settings", {}), dict):
        raise ValueError(f"{where}: intensity, correlation and size are lists (size: [height, width]), std a "
                         f"list of lists, settings an object")
    try:
        return NoiseProfile(intensity=tuple(float(v) for v in d["intensity"]),
                            std=tuple(tuple(float(v) for v in row) for row in d["std"]),
                            correlation=tuple(float(v) for v in d.get("correlation", ())),
                            camera=str(d.get("camera", "")), size=tuple(int(v) for v in d.get("size", (0, 0))),
                            settings={str(k): float(v) for k, v in dict(d.get("settings", {})).items()},
                            frames=int(d.get("frames", 0)), source=str(d.get("source", "stream")))
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"{where}: {e}") from None


def estimate(frame: np.ndarray, block: int = 8, flat: float = FLAT_SHARE) -> NoiseProfile:
    """A single frame's noise profile, by an estimator that holds on correlated noise: in the
    flattest blocks of each intensity, the variance left after fitting a plane to the block.
    frame: uint8 [H, W, C] (0-255) or float32 [H, W, C] in [0, 1] (HxW too); C = 1 or 3, BGR.

    Measured over whole 8x8 blocks, the variance counts the noise however its pixels are
    correlated (neighbour differences or fine wavelet bands see only its high frequencies,
    which is how a blind model reads a camera's noise several times too low). Per quantile bin
    of the blocks' luma, the blocks with the lowest plane-fit variance (the flattest `flat`
    share) are taken, and their median variance corrected for the selection (FLAT_BIAS, which
    depends on how correlated the noise is). The correlation: the same blocks' variance after
    2x2 means, corrected likewise (FLAT_CORRELATION). Texture everywhere (no flat block at an
    intensity) reads high: the estimate is an upper bound there. Accuracy on photos:
    benchmarks/RESULTS.md (noise estimation)."""
    if not isinstance(block, int) or block < 4 or block % 2:
        raise ValueError(f"block must be an even number of pixels >= 4, got {block!r}")
    x = in_units(frame)
    h, w, c = x.shape
    bh, bw = h // block, w // block
    if bh * bw < MIN_SAMPLES:
        raise ValueError(f"a {w}x{h} frame has too few {block}x{block} blocks to estimate its noise "
                         f"(at least {MIN_SAMPLES}); use a larger frame or a stream (frame averaging measures it)")
    x = x[:bh * block, :bw * block]
    half = block // 2
    # least-squares plane per block and channel: the basis 1, y, x is orthogonal on a centred
    # grid, so each coefficient is one block mean (OpenCV's area resize: whole blocks, exact)
    t = np.arange(block, dtype=np.float32) - np.float32((block - 1) / 2.0)
    ty = np.tile(t, bh)[:, None, None]
    tx = np.tile(t, bw)[None, :, None]
    mean = _block_means(x, block)                                                # [bh, bw, C]
    d = x - _blocks_up(mean, block)
    per = np.float32(block / np.sum(t * t))                # block mean of d * t -> the slope
    gy, gx = _block_means(d * ty, block) * per, _block_means(d * tx, block) * per
    res = d - _blocks_up(gy, block) * ty - _blocks_up(gx, block) * tx
    dof = block * block - 3
    var = (_block_means(res * res, block) * np.float32(block * block / dof)).reshape(-1, c)   # [B, C]
    red = _block_means(res, 2)                              # the residual's 2x2 means
    var_red = _block_means(red * red, half).reshape(-1, c)                      # [B, C]
    bgr = mean.reshape(-1, c)
    luma = bgr @ np.array([0.114, 0.587, 0.299], np.float32) if c == 3 else bgr[:, 0]
    total = var.mean(axis=1)
    k = int(max(1, min(BINS, total.size // (4 * MIN_SAMPLES))))
    order = np.argsort(luma, kind="stable")
    edges = np.linspace(0, total.size, k + 1).astype(int)
    intensity, level, flat_full, flat_red = [], [], [], []
    for i in range(k):
        idx = order[edges[i]:edges[i + 1]]
        keep = idx[np.argsort(total[idx], kind="stable")[:max(1, int(flat * idx.size))]]
        intensity.append(float(np.median(luma[idx])))
        level.append(np.median(var[keep], axis=0))
        flat_full.append(float(np.median(total[keep])))
        flat_red.append(float(np.median(var_red[keep].mean(axis=1))))
    ratio = float(np.median(np.asarray(flat_red) / np.maximum(np.asarray(flat_full), 1e-30)))
    measured = math.sqrt(max(ratio, 0.0) * 4.0)
    bias = max(0.5, FLAT_BIAS[0] + FLAT_BIAS[1] * (measured - 0.96))
    corr = max(1.0, FLAT_CORRELATION[0] + FLAT_CORRELATION[1] * (measured - 0.96))
    std = np.sqrt(np.asarray(level).T / bias)                                   # [C, K]
    return NoiseProfile(tuple(intensity), tuple(tuple(float(v) for v in row) for row in std),
                        (round(corr, 4),), size=(h, w), frames=1, source="frame")


def _block_means(x: np.ndarray, f: int) -> np.ndarray:
    """float32 [H/f, W/f, C]: the means of x's f x f blocks (x [H, W, C], sides multiples of f)."""
    h, w, c = x.shape
    return cv2.resize(x, (w // f, h // f), interpolation=cv2.INTER_AREA).reshape(h // f, w // f, c)


def _blocks_up(m: np.ndarray, f: int) -> np.ndarray:
    """[h*f, w*f, C]: each value of m [h, w, C] repeated over its f x f block."""
    return np.repeat(np.repeat(m, f, axis=0), f, axis=1)


def can_estimate(shape: Tuple[int, ...], block: int = 8) -> bool:
    """Whether a frame of this shape ([H, W] or [H, W, C]) has the blocks estimate() needs."""
    return (shape[0] // block) * (shape[1] // block) >= MIN_SAMPLES


def rough(frame: np.ndarray) -> NoiseProfile:
    """A frame too small for estimate() (can_estimate): one std per channel for every intensity,
    from the median absolute difference of horizontal neighbours (MAD / 0.6745 / sqrt 2: white
    noise's reading, so correlated noise reads low), std 0 for frames under 2 pixels wide; same
    frames as estimate(). Scales with the frame like every estimate here."""
    x = in_units(frame)
    d = np.abs(np.diff(x, axis=1)).reshape(-1, x.shape[2])
    std = np.median(d, axis=0) / (0.6745 * math.sqrt(2.0)) if d.size else np.zeros(x.shape[2])
    return NoiseProfile((0.0,), tuple((float(v),) for v in std), size=(x.shape[0], x.shape[1]),
                        frames=1, source="frame")


def nearest(profiles, settings: Dict[str, float]) -> NoiseProfile:
    """Of several saved profiles of one camera, the one measured at the analogue gain (else gain)
    nearest to `settings` (a live source's settings(), in log scale: noise follows gain by
    ratios); the first when neither says a gain."""
    profiles = list(profiles)
    if not profiles:
        raise ValueError("no noise profile given")
    for key in ("analogue_gain", "gain"):
        now = settings.get(key)
        known = [p for p in profiles if p.settings.get(key, 0) > 0]
        if now and now > 0 and known:
            return min(known, key=lambda p: abs(math.log(p.settings[key] / now)))
    return profiles[0]


def from_pair(noisy: np.ndarray, reference: np.ndarray, camera: str = "",
              settings: Optional[Dict[str, float]] = None) -> NoiseProfile:
    """The profile of a camera measured on one photo pair: a noisy shot and its clean reference
    (uint8 [H, W, C], 0-255, or float32 in [0, 1]; C = 1 or 3, same shape), as a still scene
    shot twice gives (the reference: the mean of many shots). The level per intensity of the
    reference's luma from the residual's medians, and its correlation from the residual after
    one and two 2x2 area reductions, as a stream measures them."""
    if noisy.shape != reference.shape or noisy.ndim not in (2, 3):
        raise ValueError(f"noisy {noisy.shape} and reference {reference.shape} must be the same HxW or HxWxC")
    if noisy.dtype != reference.dtype:
        raise ValueError(f"noisy ({noisy.dtype}) and reference ({reference.dtype}) must have one dtype: "
                         f"both uint8 (0-255) or both float32 (0-1)")
    y, x = in_units(noisy), in_units(reference)
    r = y - x
    c = r.shape[2]
    luma = frame_luma(x)
    # every pixel of a pair's residual is noise: plain means (medians of a uint8 residual of a
    # few grey levels jump between whole values)
    intensity, var = binned_variance(np.square(r).reshape(-1, c), luma.ravel(), robust=False)
    full = float(np.mean(np.square(r)))
    corr = []
    for k in (1, 2):
        h, w = r.shape[0] >> k, r.shape[1] >> k
        if min(h, w) < 2:
            break
        reduced = cv2.resize(r[:h << k, :w << k], (w, h), interpolation=cv2.INTER_AREA).reshape(h, w, c)
        corr.append(round(math.sqrt(float(np.mean(np.square(reduced))) * 4 ** k / max(full, 1e-30)), 4))
    return NoiseProfile(tuple(float(v) for v in intensity), tuple(tuple(float(np.sqrt(v)) for v in row) for row in var),
                        tuple(corr), camera, (int(r.shape[0]), int(r.shape[1])), dict(settings or {}), 1, "frame")


def binned_variance(dsq: np.ndarray, luma: np.ndarray, bins: int = BINS,
                    robust: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Noise variance per intensity from squared differences of noise: dsq float32 [M, C] (one
    row per sampled pixel), luma float32 [M] (the pixel's intensity). Returns (intensity [K],
    var [C, K]): per quantile bin of luma, its median luma and median(dsq) / CHI2_MEDIAN per
    channel (the median is robust to the few pixels that moved); robust=False: the plain mean
    of dsq (all of it is noise, as in a photo pair). K <= bins: bins with fewer than
    MIN_SAMPLES samples are merged."""
    m = luma.shape[0]
    k = int(max(1, min(bins, m // MIN_SAMPLES)))
    order = np.argsort(luma, kind="stable")
    edges = np.linspace(0, m, k + 1).astype(int)
    intensity = np.empty(k, np.float64)
    var = np.empty((dsq.shape[1], k), np.float64)
    for i in range(k):
        idx = order[edges[i]:edges[i + 1]]
        intensity[i] = float(np.median(luma[idx]))
        var[:, i] = np.median(dsq[idx], axis=0) / CHI2_MEDIAN if robust else np.mean(dsq[idx], axis=0)
    return intensity, var


class StillDifferences:
    """Running noise statistics of a stream from frame-minus-past differences where the scene
    holds still (fed by frame averaging every frame). Each frame's estimate is robust (medians
    per intensity bin), and the profile is a running mean over frames (RATE per frame), so a
    moving object in a few frames moves it little.

    The level: var(one frame) per intensity, from d = y_t - past with var(d) = var(y) (1 + 1/n)
    where the past averages n frames. The correlation: how much of d's variance 2x2 means keep
    against white noise's quarter."""

    RATE = 0.1   # a new frame's share in the running statistics (about the last 10 frames)

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.intensity: Optional[np.ndarray] = None
        self.var: Optional[np.ndarray] = None          # [C, K], one frame's noise at half resolution
        self.full_ratio: Optional[float] = None         # var at full resolution / at half
        self.quarter_ratio: Optional[float] = None      # var at quarter resolution / at half
        self.frames = 0
        self.size: Tuple[int, int] = (0, 0)

    def _mix(self, old, new):
        return running(old, new, self.frames, self.RATE)

    def add(self, dsq: np.ndarray, luma: np.ndarray, inv_n: np.ndarray, full_ratio: Optional[float],
            quarter_ratio: Optional[float], size: Tuple[int, int]) -> None:
        """One frame's samples at half resolution: dsq float32 [M, C] squared differences,
        luma [M] the past's luma, inv_n [M] 1 / frames in the past; full_ratio / quarter_ratio:
        median(d^2) at full / quarter resolution over that at half (None: not measured)."""
        c = dsq.shape[1]
        # one sort for both: the last column gives the median 1/n per bin
        intensity, medians = binned_variance(np.concatenate([dsq, inv_n[:, None] * CHI2_MEDIAN], axis=1), luma)
        var = medians[:c] / (1.0 + medians[c:])
        if self.var is not None and self.var.shape != var.shape:
            if self.var.shape[0] == var.shape[0]:    # a seeded profile of another bin count
                self.var = np.stack([np.interp(intensity, self.intensity, row) for row in self.var])
                self.intensity = intensity
            else:
                self.reset()
        self.frames += 1
        self.size = size
        self.intensity = running(self.intensity, intensity, self.frames, self.RATE, rise=np.inf)
        self.var = self._mix(self.var, var)
        if full_ratio is not None:
            self.full_ratio = self._mix(self.full_ratio, full_ratio)
        if quarter_ratio is not None:
            self.quarter_ratio = self._mix(self.quarter_ratio, quarter_ratio)

    def seed(self, profile: "NoiseProfile") -> None:
        """Start from a saved profile (bfcnn-runtime --calibrate) as if it had been measured on
        SEED_FRAMES frames: the stream's first frames are gated with the camera's known noise,
        and its own measurements take over from there. The profile's first correlation (2x2
        means against white noise) says how the full-resolution variance relates to the
        half-resolution one the gate uses (white noise without it)."""
        corr = profile.correlation[0] if profile.correlation else 1.0
        self.reset()
        self.full_ratio = 4.0 / max(corr * corr, 1e-6)
        self.intensity = np.asarray(profile.intensity, np.float64)
        self.var = np.square(np.asarray(profile.std, np.float64)) / self.full_ratio
        if len(profile.correlation) > 1:
            self.quarter_ratio = (profile.correlation[1] / max(corr, 1e-6)) ** 2 / 4.0
        self.frames = SEED_FRAMES
        self.size = tuple(profile.size)

    def variance_half(self, luma: np.ndarray) -> np.ndarray:
        """One frame's noise variance at half resolution (mean over channels) at each luma value;
        0 where no noise was measured yet (identical frames: only what matches exactly is still)."""
        if self.var is None:
            return np.zeros(np.shape(luma), np.float32)
        return np.interp(luma, self.intensity, self.var.mean(axis=0)).astype(np.float32)

    def profile(self) -> Optional[NoiseProfile]:
        """The measured profile at full resolution, or None before two frames were compared."""
        if self.var is None or self.full_ratio is None:
            return None
        std = np.sqrt(self.var * self.full_ratio)
        corr = [math.sqrt(4.0 / max(self.full_ratio, 1e-12))]
        if self.quarter_ratio is not None:
            corr.append(math.sqrt(16.0 * self.quarter_ratio / max(self.full_ratio, 1e-12)))
        return NoiseProfile(tuple(float(v) for v in self.intensity), tuple(tuple(float(v) for v in r) for r in std),
                            tuple(round(c, 4) for c in corr), size=self.size, frames=self.frames,
                            source="stream")


def running(old, new, frames: int, rate: float, rise: float = RISE):
    """A running mean over frames (frames counts this one): the plain mean of the first 1 / rate
    frames, then an exponential one with that rate; `new` alone when there is no `old`. After
    the first WARMUP frames a frame may raise it by at most `rise` x (elementwise): a camera's
    noise does not jump, but a frame that moved as a whole (a misregistered pan) inflates
    every median of it, and must not teach the stream that motion is noise."""
    if old is None:
        return new
    if frames > WARMUP and np.isfinite(rise):   # a zero (a clipped black bin) may rise freely
        if isinstance(new, np.ndarray):
            new = np.where(np.asarray(old) > 0, np.minimum(new, rise * np.asarray(old)), new)
        elif old > 0:
            new = min(new, rise * old)
    return old + (new - old) * max(rate, 1.0 / max(frames, 1))
