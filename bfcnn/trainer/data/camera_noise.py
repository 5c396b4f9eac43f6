"""Camera noise synthesis: what a real camera's JPEG does to the noise of its sensor.

A clean sRGB training crop is "unprocessed" back to the linear light a sensor would have seen
(inverse tone curve, inverse colour-correction matrix, inverse white balance), band-limited
as by a lens and optical low-pass filter, sampled on a Bayer mosaic with a random colour-filter phase, given heteroscedastic Poisson-Gaussian noise
(variance a*x + b in linear light, plus optional row noise), then sent through a small camera
ISP: demosaicking (one of OpenCV's methods at random), white balance, colour correction, tone
curve, optionally the ISP's own noise reduction (luma and chroma drawn apart), 8 bits and, optionally, JPEG at a random
quality. The clean target is the same mosaic
through the same ISP (same demosaicking, same noise-reduction settings) without noise and
without JPEG: what the camera would show of a noiseless scene. After the ISP the noise is signal-dependent and spatially correlated, as
in real photos (lag-1 autocorrelation 0.3-0.7 instead of 0).

Gray models get either the luma of that pipeline (a colour sensor in a gray app) or a mono
sensor's Poisson-Gaussian noise with no mosaic, per `mono_fraction`.

The physics (Brooks et al., "Unprocessing Images for Learned Raw Denoising", CVPR 2019;
Foi et al., "Practical Poissonian-Gaussian noise modeling", 2008): shot-noise gain `a` is
1 / (full-well electrons at that ISO) in units of the white level. A full-frame DSLR at ISO 100
holds ~60,000 e- (a ~ 2e-5); a phone or Raspberry Pi sensor at ISO 6400-12800 holds a few
hundred (a ~ 1e-2). Read-noise variance b follows log b = 2.18 log a + 1.2 +- 0.26 (Brooks'
fit over real cameras). Both are drawn per image.

All functions are numpy / OpenCV, run in the trainer's prefetch thread (OpenCV releases the
GIL), and are pure functions of the numpy Generator they are given.
"""
from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

from bfcnn.config import CameraNoiseConfig

# Bayer phases: the colour (0 = R, 1 = G, 2 = B) at each position of the top-left 2x2 block,
# and the OpenCV conversion code base name that demosaics that phase into BGR.
_PHASES = {
    "RGGB": ((0, 1), (1, 2)),
    "GRBG": ((1, 0), (2, 1)),
    "GBRG": ((1, 2), (0, 1)),
    "BGGR": ((2, 1), (1, 0)),
}
_SUFFIX = {"bilinear": "", "edge_aware": "_EA", "vng": "_VNG"}
_LUMA_BGR = np.array([0.114, 0.587, 0.299], np.float32)


def demosaic_code(phase: str, method: str) -> int:
    """OpenCV's cvtColor code that turns a `phase` mosaic into BGR with `method`."""
    return getattr(cv2, f"COLOR_Bayer{phase}2BGR{_SUFFIX[method]}")


# ------------------------------------------------------------------ tone curve (sRGB <-> linear)

def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB-encoded float32 in [0, 1] -> linear light in [0, 1] (IEC 61966-2-1)."""
    return np.where(x <= 0.04045, x / np.float32(12.92),
                    ((x + np.float32(0.055)) / np.float32(1.055)) ** np.float32(2.4)).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear light float32 (clipped to [0, 1]) -> sRGB-encoded float32 in [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * np.float32(12.92),
                    np.float32(1.055) * x ** np.float32(1 / 2.4) - np.float32(0.055)).astype(np.float32)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3.0 - 2.0 * x)


def _inverse_smoothstep(y: np.ndarray) -> np.ndarray:
    y = np.clip(y, 0.0, 1.0)
    return (0.5 - np.sin(np.arcsin(1.0 - 2.0 * y) / 3.0)).astype(np.float32)


# Tone curves as look-up tables, as an ISP applies them: 8-bit code -> linear (exact), and
# linear quantized to 16 bits -> display value (error < 0.03 grey levels at the dark end).
# Index 0: plain sRGB gamma; index 1: sRGB gamma followed by a smoothstep S-curve.
_CODES = np.arange(256, dtype=np.float32) / np.float32(255.0)
_DECODE = np.stack([srgb_to_linear(_CODES), srgb_to_linear(_inverse_smoothstep(_CODES))])
_LEVELS = np.arange(65536, dtype=np.float32) / np.float32(65535.0)
_ENCODE = np.stack([linear_to_srgb(_LEVELS), _smoothstep(linear_to_srgb(_LEVELS))]).astype(np.float32)


def decode(u8: np.ndarray, curve: int) -> np.ndarray:
    """uint8 display codes -> float32 linear light in [0, 1] through tone curve `curve` (0 / 1)."""
    return _DECODE[curve][u8]


def encode(linear: np.ndarray, curve: int) -> np.ndarray:
    """float32 linear light (clipped to [0, 1]) -> float32 display values in [0, 1]."""
    idx = (np.clip(linear, 0.0, 1.0) * np.float32(65535.0) + np.float32(0.5)).astype(np.uint16)
    return _ENCODE[curve][idx]


# ------------------------------------------------------------------ random camera

def random_ccm(rng: np.random.Generator) -> np.ndarray:
    """A camera-RGB -> sRGB colour-correction matrix, float32 [3, 3] acting on RGB column
    vectors: diagonal 1.3-2.0 (as in DSLR, phone and Raspberry Pi sensor calibrations), negative
    off-diagonals splitting the excess at random, every row summing to 1 (white stays white)."""
    m = np.zeros((3, 3), np.float32)
    for i in range(3):
        d = rng.uniform(1.3, 2.0)
        w = rng.beta(2.0, 2.0)
        others = [j for j in range(3) if j != i]
        m[i, i] = d
        m[i, others[0]] = -(d - 1.0) * w
        m[i, others[1]] = -(d - 1.0) * (1.0 - w)
    return m


def random_noise_levels(c: CameraNoiseConfig, rng: np.random.Generator) -> Tuple[float, float]:
    """(a, b): shot-noise gain and read-noise variance, linear units of the white level."""
    lo, hi = np.log(c.shot_noise[0]), np.log(c.shot_noise[1])
    log_a = rng.uniform(lo, hi)
    log_b = 2.18 * log_a + 1.2 + rng.normal(0.0, 0.26)
    return float(np.exp(log_a)), float(np.exp(log_b))


def add_sensor_noise(raw: np.ndarray, a: float, b: float, row_ratio: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Poisson-Gaussian noise on linear sensor values: float32 HxW in [0, 1] -> float32 HxW,
    variance a*x + b per pixel (Gaussian approximation of the Poisson count, exact to a few
    percent above ~10 electrons), plus one offset per row with std row_ratio * sqrt(b)."""
    std = np.sqrt(np.float32(a) * np.maximum(raw, 0.0) + np.float32(b))
    noisy = raw + std * rng.standard_normal(raw.shape, dtype=np.float32)
    if row_ratio > 0:
        noisy += (np.float32(row_ratio * np.sqrt(b)) * rng.standard_normal((raw.shape[0], 1), dtype=np.float32))
    return noisy


def mosaic(rgb: np.ndarray, phase: str) -> np.ndarray:
    """Linear float32 HxWx3 (RGB order) -> HxW Bayer mosaic of the given phase."""
    h, w, _ = rgb.shape
    out = np.empty((h, w), np.float32)
    for dy in range(2):
        for dx in range(2):
            out[dy::2, dx::2] = rgb[dy::2, dx::2, _PHASES[phase][dy][dx]]
    return out


def demosaic(raw: np.ndarray, phase: str, method: str) -> np.ndarray:
    """HxW float32 mosaic in [0, 1] (clipped) -> HxWx3 float32 RGB in [0, 1]. Bilinear and
    edge-aware work on 16 bits; VNG (8 bits only in OpenCV) works on the sRGB-encoded mosaic,
    as low-cost ISPs that demosaic after the tone curve do, and is linearized again after."""
    if method == "vng":
        u8 = np.rint(encode(raw, 0) * np.float32(255.0)).astype(np.uint8)
        return decode(np.ascontiguousarray(cv2.cvtColor(u8, demosaic_code(phase, method))[:, :, ::-1]), 0)
    u16 = np.rint(np.clip(raw, 0.0, 1.0) * 65535.0).astype(np.uint16)
    bgr = cv2.cvtColor(u16, demosaic_code(phase, method))
    return bgr[:, :, ::-1].astype(np.float32) / np.float32(65535.0)


# ------------------------------------------------------------------ the pipeline

def isp_noise_reduction(images, noise_std: Optional[float], chroma_sigma: Optional[float],
                        rng: np.random.Generator):
    """The camera's own noise reduction, after the tone curve as in most ISPs' YUV stage, with
    one draw of its settings applied to every image given (the noisy render and the noiseless
    one: a camera's reference picture went through the same filter). images: float32 HxWxC
    (BGR or gray) in [0, 1]; returns the filtered list.

    Luma (when `noise_std` is given): two-scale shrinkage, the classic ISP denoiser: split into
    a Gaussian low-pass (sigma 0.7-2.5 px) and the detail above it, soft-threshold the detail at
    0.5-4x `noise_std` (an ISP knows its noise from its per-ISO calibration), add back.
    Chroma (colour images, when `chroma_sigma` is given): a Gaussian blur of that many pixels.
    ISPs run the two as separate stages (the Raspberry Pi's has a spatial and a colour denoise
    block), and chroma noise reduction is the one nearly always on: the eye barely sees fine
    colour, so cameras and raw converters blur chroma at every ISO (Adobe Camera Raw's
    defaults: colour 25, luminance 0) and leave luma grain. What remains is luma grain over
    low-frequency colour blotches (DSLR JPEGs at ISO 3200-6400: luma lag-1 / lag-4
    autocorrelation ~0.66 / 0.2, chroma ~0.93 / 0.6)."""
    if noise_std is not None:
        space = float(rng.uniform(0.7, 2.5))
        threshold = np.float32(noise_std * float(rng.uniform(0.5, 4.0)))

    def shrink(y: np.ndarray) -> np.ndarray:
        if noise_std is None:
            return y
        low = cv2.GaussianBlur(y, (0, 0), space)
        detail = y - low
        return low + np.sign(detail) * np.maximum(np.abs(detail) - threshold, np.float32(0.0))
    out = []
    for img in images:
        if img.shape[2] == 1:
            out.append(shrink(np.ascontiguousarray(img[:, :, 0]))[:, :, None])
            continue
        ycc = cv2.cvtColor(np.clip(img, 0.0, 1.0), cv2.COLOR_BGR2YCrCb)
        ycc[:, :, 0] = shrink(np.ascontiguousarray(ycc[:, :, 0]))
        if chroma_sigma is not None:
            ycc[:, :, 1:] = cv2.GaussianBlur(ycc[:, :, 1:], (0, 0), chroma_sigma)
        out.append(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR))
    return out


def _jpeg(img_u8: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img_u8, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV could not JPEG-encode a training crop")
    out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return out.reshape(img_u8.shape)


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * np.float32(255.0)), 0, 255).astype(np.uint8)


def camera_pair(clean: np.ndarray, c: CameraNoiseConfig, rng: np.random.Generator,
                noise_rng: Optional[np.random.Generator] = None) -> Tuple[np.ndarray, np.ndarray]:
    """(target, noisy) for one crop. clean: uint8 HxWxC (C = 1 gray or 3 BGR), H and W even.
    Returns two uint8 arrays of the same shape: the crop as the camera's ISP renders it without
    noise, and with sensor noise (and JPEG when drawn). Pixel-aligned: no shifts, no resizing.
    noise_rng: where the sensor noise itself is drawn (default: rng). Video frames pass a fresh
    one per frame and a copy of the same `rng` each time: one camera (levels, ISP, JPEG
    quality), fresh noise every frame."""
    noise_rng = rng if noise_rng is None else noise_rng
    channels = clean.shape[2]
    curve = int(rng.random() < c.tone_curve_fraction)
    a, b = random_noise_levels(c, rng)
    row_ratio = rng.uniform(0.0, c.row_noise) if c.row_noise > 0 else 0.0
    if channels == 1 and rng.random() < c.mono_fraction:
        lin = decode(clean[:, :, 0], curve)
        noisy_lin = add_sensor_noise(lin, a, b, row_ratio, noise_rng)[:, :, None]
        target_lin = lin[:, :, None]
        ccm = None
    else:
        rgb = clean[:, :, ::-1] if channels == 3 else np.repeat(clean, 3, axis=2)
        lin = decode(np.ascontiguousarray(rgb), curve)
        ccm = random_ccm(rng)
        gains = np.array([rng.uniform(1.9, 2.4), 1.0, rng.uniform(1.5, 1.9)], np.float32)
        cam = np.clip(cv2.transform(lin, np.linalg.inv(ccm).astype(np.float32)), 0.0, 1.0) / gains  # sensor RGB
        # the lens and the sensor's optical low-pass filter band-limit what reaches the mosaic;
        # demosaicking a pixel-sharp image instead paints false colour everywhere (28.6 dB
        # demosaicked vs not, on CBSD68, a 'signal' no camera makes; 36-44 dB after 0.7-1 px)
        cam = cv2.GaussianBlur(cam, (0, 0), float(rng.uniform(0.6, 1.1)))
        phase = list(_PHASES)[int(rng.integers(0, 4))]
        method = c.demosaic[int(rng.integers(0, len(c.demosaic)))]
        clean_raw = mosaic(cam, phase)
        raw = add_sensor_noise(clean_raw, a, b, row_ratio, noise_rng)
        noisy_lin = cv2.transform(np.clip(demosaic(raw, phase, method) * gains, 0.0, 1.0), ccm)
        # the target is demosaicked too, by the same method: a camera's picture of a noiseless
        # scene still has its demosaicking, and the model is to remove noise, not to re-demosaic
        # (with a full-RGB target, demosaicking error alone held "noisy" crops to ~28 dB and the
        # model learned that instead of the noise)
        target_lin = cv2.transform(np.clip(demosaic(clean_raw, phase, method) * gains, 0.0, 1.0), ccm)
    noisy, target = encode(noisy_lin, curve), encode(target_lin, curve)
    if ccm is not None:  # back to the model's layout: BGR, or the luma plane for a gray model
        noisy, target = noisy[:, :, ::-1], target[:, :, ::-1]
        if channels == 1:
            noisy = (noisy @ _LUMA_BGR)[:, :, None]
            target = (target @ _LUMA_BGR)[:, :, None]
    noise_std = chroma_sigma = None
    if rng.random() < c.isp_denoise_fraction:
        diff = noisy - target
        noise_std = float(np.std(diff @ _LUMA_BGR if diff.shape[2] == 3 else diff))
    if channels == 3 and rng.random() < c.chroma_denoise_fraction:
        chroma_sigma = float(rng.uniform(*c.chroma_denoise_sigma))
    if noise_std is not None or chroma_sigma is not None:
        noisy, target = isp_noise_reduction([np.ascontiguousarray(noisy), np.ascontiguousarray(target)],
                                            noise_std, chroma_sigma, rng)
    noisy_u8, target_u8 = _to_u8(noisy), _to_u8(target)
    if rng.random() < c.jpeg_fraction:
        noisy_u8 = _jpeg(noisy_u8, int(rng.integers(c.jpeg_quality[0], c.jpeg_quality[1] + 1)))
        if channels == 3:
            # JPEG halves the chroma resolution (4:2:0) of every picture the camera writes, its
            # reference picture too; the target gets that (at quality 100: the subsampling, next
            # to no quantization). Without it, lost chroma detail held even noiseless pairs to
            # ~27 dB on CBSD68 and drowned the noise in the loss.
            target_u8 = _jpeg(target_u8, 100)
    return np.ascontiguousarray(target_u8), np.ascontiguousarray(noisy_u8)
