"""How bfcnn measures quality: where the image sets are, the noise protocols, PSNR and SSIM.

One definition for the tests, the benchmarks and the explain tools (numpy + OpenCV only, no
TensorFlow). Images are uint8, HxW (gray) or HxWx3 (BGR), values 0-255.

Protocols:
- `camera`: clean + N(0, sigma^2) per pixel, rounded and clipped to uint8 (what a runtime
  receives from a camera; the headline for synthetic noise).
- `float`: the same noise left unclipped as float32 (the papers' protocol).
- `real`: PolyU100, one real noisy shot against the mean of ~500 shots of the same scene, as
  the camera wrote them (JPEG, camera ISP and its noise reduction included). Evaluation only:
  never train or tune weights on it (its licence and honesty both say so).
"""
from __future__ import annotations

import os
from typing import List, Optional, Tuple

import cv2
import numpy as np

GRAY_SETS = ("Set12", "BSD68")
COLOR_SETS = ("CBSD68", "Kodak24")
REAL_SET = "PolyU100"
_IMAGE_ENDINGS = (".png", ".jpg", ".jpeg", ".bmp", ".tif")


def dataset_root() -> str:
    """The folder holding the image sets: $BFCNN_DATASETS, else ../shared/datasets beside the
    source checkout (the repository's parent folder). Where to get each set:
    ../shared/datasets/README.md (or docs/datasets.md)."""
    env = os.environ.get("BFCNN_DATASETS")
    if env:
        return env
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.normpath(os.path.join(repo, "..", "shared", "datasets"))


def set_folder(name: str) -> str:
    """Path of one image set; FileNotFoundError naming the set and the fix when it is missing."""
    folder = os.path.join(dataset_root(), name)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"image set {name!r} not found at {folder}; set BFCNN_DATASETS to the "
                                f"folder that holds it (docs/datasets.md says where to get it)")
    return folder


def load_set(name: str, limit: int = 0) -> List[np.ndarray]:
    """The images of a synthetic-noise test set, sorted by file name, first `limit` (0 = all):
    uint8 HxW for gray sets, HxWx3 BGR for colour sets."""
    folder = set_folder(name)
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith(_IMAGE_ENDINGS))[:limit or None]
    flag = cv2.IMREAD_GRAYSCALE if name in GRAY_SETS else cv2.IMREAD_COLOR
    return [cv2.imread(os.path.join(folder, f), flag) for f in files]


def real_pairs(limit: int = 0, gray: bool = False, offset: int = 0) -> List[Tuple[str, np.ndarray, np.ndarray]]:
    """PolyU100 pairs as (name, noisy, reference), sorted by name, `limit` of them (0 = all)
    from index `offset`: uint8 512x512x3 BGR, or the luma plane (512x512) with gray=True."""
    folder = set_folder(REAL_SET)
    names = sorted(f[: -len("_real.JPG")] for f in os.listdir(folder) if f.endswith("_real.JPG"))
    names = names[offset:][:limit or None]
    flag = cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR
    pairs = []
    for n in names:
        noisy = cv2.imread(os.path.join(folder, n + "_real.JPG"), flag)
        ref = cv2.imread(os.path.join(folder, n + "_mean.JPG"), flag)
        if noisy is None or ref is None:
            raise FileNotFoundError(f"{REAL_SET}: cannot read the pair {n}_real.JPG / {n}_mean.JPG in {folder}")
        pairs.append((n, noisy, ref))
    return pairs


def residual_stream(clean: np.ndarray, residual: np.ndarray, frames: int, seed: int) -> List[np.ndarray]:
    """A still scene with a real camera's noise on every frame: `residual` (float32, the noisy
    minus the clean of a photo pair, same shape as uint8 `clean`) moved to a fresh random
    offset each frame (circularly), added, rounded and clipped to uint8. The camera's level
    and spatial correlation, independent from frame to frame."""
    rng = np.random.default_rng(seed)
    h, w = clean.shape[:2]
    base = clean.astype(np.float32)
    out = []
    for _ in range(frames):
        moved = np.roll(residual, (int(rng.integers(h)), int(rng.integers(w))), axis=(0, 1))
        out.append(np.clip(np.rint(base + moved), 0, 255).astype(np.uint8))
    return out


def add_noise(clean: np.ndarray, sigma: float, rng: np.random.Generator, protocol: str = "camera") -> np.ndarray:
    """Gaussian noise of std `sigma` (0-255 units) on uint8 `clean`: uint8 under the camera
    protocol (rounded, clipped), float32 (unclipped) under the float protocol."""
    noisy = clean.astype(np.float32) + rng.normal(0, sigma, clean.shape).astype(np.float32)
    if protocol == "camera":
        return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    if protocol == "float":
        return noisy
    raise ValueError(f"protocol {protocol!r}: use 'camera' or 'float' (real noise comes from real_pairs)")


def psnr(out: np.ndarray, clean: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB of `out` against `clean` (any dtype, same shape, 0-`peak` scale)."""
    mse = np.mean((np.asarray(out, np.float64) - np.asarray(clean, np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(peak ** 2 / mse))


def ssim(out: np.ndarray, clean: np.ndarray) -> float:
    """SSIM (scikit-image, the test extra) of `out` against `clean`, 0-255 scale, HxW or HxWx3."""
    from skimage.metrics import structural_similarity
    return float(structural_similarity(np.asarray(clean, np.float64), np.asarray(out, np.float64),
                                       data_range=255, channel_axis=2 if clean.ndim == 3 else None))


def as_uint8(img: np.ndarray) -> np.ndarray:
    """Rounded and clipped to uint8 (a no-op on uint8)."""
    return img if img.dtype == np.uint8 else np.clip(np.rint(img), 0, 255).astype(np.uint8)


def luma(bgr: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """uint8 HxWx3 BGR -> uint8 HxW luma (OpenCV's BT.601 weights, as the gray sets use)."""
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY, dst=out)


def bm3d(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """(C)BM3D peer (the `bm3d` package, test extra): uint8 or float HxW / HxWx3 BGR on the 0-255
    scale, noise std `sigma` in grey levels -> float64 result on 0-255, clipped."""
    import bm3d as _bm3d
    x = noisy.astype(np.float32) / np.float32(255.0)
    if x.ndim == 2:
        return np.clip(_bm3d.bm3d(x, sigma / 255.0) * 255.0, 0, 255)
    return np.clip(_bm3d.bm3d_rgb(x[:, :, ::-1], sigma / 255.0)[:, :, ::-1] * 255.0, 0, 255)


def flat_noise_stream(clean: np.ndarray, residual: np.ndarray, frames: int, seed: int,
                      block: int = 32, candidates: int = 48) -> List[np.ndarray]:
    """A still scene with a real camera's noise on every frame, without the pair's edges:
    `residual` (float32, noisy - clean of a photo pair, same shape as uint8 `clean`) is cut
    into windows of `block` px where the reference is flat (the lower 40% of windows by its
    gradient energy), and each block of each frame takes a window, picked at random from the
    `candidates` whose mean reference intensity is nearest its own (turned by 180 degrees half
    the time: the noise's autocorrelation is the same). Added, rounded and clipped to uint8.

    Why not residual_stream alone: a pair's reference (a mean of many shots) is not exactly
    registered with, or as sharp as, the noisy shot, so its residual holds the scene's edges
    (up to 3x the noise std on PolyU100); moved to a fresh offset each frame they are edges
    that move, which a motion gate must not average, and the residual's level follows the
    intensity where it was taken, not where it lands. Here each frame keeps the camera's level
    per intensity and its spatial correlation (within a block), independent from frame to frame."""
    rng = np.random.default_rng(seed)
    h, w = clean.shape[:2]
    if h < block or w < block:
        raise ValueError(f"flat_noise_stream: the image ({w}x{h}) must be at least block={block} px on each side")
    gray = clean if clean.ndim == 2 else cv2.cvtColor(clean, cv2.COLOR_BGR2GRAY)
    gray = gray.astype(np.float32)
    energy = np.square(cv2.Sobel(gray, cv2.CV_32F, 1, 0)) + np.square(cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    # window means (top-left anchored) on an 8-px grid
    ys = np.arange(0, h - block + 1, 8)
    xs = np.arange(0, w - block + 1, 8)
    box = lambda a: cv2.blur(a, (block, block), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    e_win, l_win = box(energy)[np.ix_(ys, xs)].ravel(), box(gray)[np.ix_(ys, xs)].ravel()
    pos = np.stack(np.meshgrid(ys, xs, indexing="ij"), axis=-1).reshape(-1, 2)
    flat = e_win <= np.percentile(e_win, 40)
    pos, lum = pos[flat], l_win[flat]
    k = min(candidates, len(lum))
    # each block's candidates (the k flat windows nearest its mean intensity): the same every frame
    blocks = []
    for y in range(0, h, block):
        for x in range(0, w, block):
            bh, bw = min(block, h - y), min(block, w - x)
            target = float(gray[y:y + bh, x:x + bw].mean())
            blocks.append((y, x, bh, bw, pos[np.argpartition(np.abs(lum - target), k - 1)[:k]]))
    base = clean.astype(np.float32)
    out = []
    for _ in range(frames):
        noise = np.empty_like(residual)
        for y, x, bh, bw, near in blocks:
            sy, sx = near[int(rng.integers(k))]
            patch = residual[sy:sy + block, sx:sx + block]
            if rng.integers(2):
                patch = patch[::-1, ::-1]
            noise[y:y + bh, x:x + bw] = patch[:bh, :bw]
        out.append(np.clip(np.rint(base + noise), 0, 255).astype(np.uint8))
    return out
