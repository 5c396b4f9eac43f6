"""Denoiser: any frame in, the same shape and dtype out (the frame contract: frames.py).

Gray model on a colour frame: each channel is denoised on its own (3 passes).
Colour model on a gray frame: the gray plane is repeated to BGR and the output averaged. It
works but removes little noise (identical noise in all three planes is not what colour models
learn: ~1 dB at sigma 25), so it warns once per Denoiser: use a gray model for gray cameras.
"""
from __future__ import annotations

import os
import threading
from typing import List, Optional, Union

import numpy as np

from bfcnn.runtime import ensemble as dihedral
from bfcnn.runtime import noise_maps, pyramid
from bfcnn.runtime import noise as profiles
from bfcnn.runtime.noise import NoiseProfile
from bfcnn.runtime.core_model import CoreModel, check_backend, open_core
from bfcnn.runtime.frames import (MAX_THREADS, StrengthSetting, check_threads, finish_output, unit_scale,
                                   validate_frame, warn_gray_frame)
from bfcnn.runtime.tiling import align_up, pad_bottom_right, tiles
from bfcnn.zoo import DEFAULT_MODEL, ModelCard, ModelError, pick_quantization, resolve

WHOLE_FRAME_MAX_PIXELS = 4096 * 4096  # auto mode tiles only above this


INT8_MAX_GAIN = 8.0   # brightening limit for int8 models (see _ensembled)


class Denoiser:
    """Blind bias-free denoiser on LiteRT.

    model: a shipped name (bfcnn.list_models()), an exported model folder, or a .tflite path
        with card.json beside it; None: bfcnn.zoo.DEFAULT_MODEL.
    num_threads: LiteRT threads (default: all cores, os.cpu_count()).
    tile: core tile side in pixels (rounded up to the pyramid stride), or None for auto
        (whole frame unless it exceeds WHOLE_FRAME_MAX_PIXELS, then 1024).
    quantization: which file of the model to run ("none" = float32, "int8", "float16",
        "dynamic"); default: the file a .tflite path names, else "none" when present.
    tile_workers: tiles run on this many interpreters in parallel threads, each with
        num_threads // tile_workers LiteRT threads (only when tiling; see RESULTS.md for when
        it pays: XNNPACK already spreads one whole frame over all threads).
    ensemble: 1 (default), 2, 4 or 8 passes over flipped / rotated copies of each frame,
        averaged (bfcnn.runtime.ensemble): N times the time for a gain measured per model in
        benchmarks/RESULTS.md. Still bias-free: the average is homogeneous and locally linear.
    Calls are serialized: one Denoiser may be shared by threads (each call holds a lock for the
    whole frame), but runs one frame at a time; for frames in parallel, make one per thread.

    strength: s in [0, 1.5], output y + s * (f(y) - y) (default 1: the model's output). Below 1
        keeps more detail and grain, above 1 smooths more. Still bias-free (a linear mix of y
        and f(y)) and free: one multiply-add per pixel.
    shuffle: pixel-shuffle downsampling for photos with a camera's spatially correlated noise:
        the model runs on the four stride-2 sub-images, then once more on their reassembly
        (2x the time; frames under 4 pixels a side are denoised plainly). A blind model reads
        noise correlated between neighbours as detail and leaves it; two pixels apart it is
        weaker. What it gains on real photos and loses on white noise is in
        benchmarks/RESULTS.md (real camera noise, Gaussian): an option for stills from a camera,
        never for white noise. Still bias-free: a permutation and two passes of the model.
    noise: for a noise-conditioned model (card `noise_input`, e.g. edge_color_noisemap): the
        camera's noise.NoiseProfile (from `bfcnn-runtime --calibrate`, noise.load or
        noise.from_pair), or a path to its JSON; None: measured on each frame by
        noise.estimate (about 2x the realtime model's time at 640x480; a saved profile costs
        nothing). The model is told the noise std of every pyramid level at every pixel
        (bfcnn/runtime/noise_maps.py), so correlated noise is removed at its true level where a
        blind model reads it as detail. Blind models take no profile.
    backend: "litert" (default) or "onnxruntime": the model's ONNX file on the best execution
        provider installed (TensorRT, CUDA, then CPU; `core.provider` says which), for GPUs
        LiteRT does not use. Same frames in, same frames out; float files only.
    """

    strength = StrengthSetting()

    def __init__(self, model: Optional[str] = None, num_threads: Optional[int] = None, tile: Optional[int] = None,
                 quantization: Optional[str] = None, tile_workers: int = 1, ensemble: int = 1,
                 strength: float = 1.0, backend: str = "litert", shuffle: bool = False,
                 noise: Union[None, str, NoiseProfile] = None):
        model = DEFAULT_MODEL if model is None else model
        self.card: ModelCard = resolve(model)
        quantization = pick_quantization(self.card, model, quantization)
        if tile is not None and (not isinstance(tile, (int, np.integer)) or tile < 1):
            raise ValueError(f"tile must be a positive integer or None, got {tile!r}")
        check_threads(num_threads)
        if isinstance(tile_workers, bool) or not isinstance(tile_workers, (int, np.integer)) \
                or not 1 <= tile_workers <= MAX_THREADS:
            raise ValueError(f"tile_workers must be an integer in 1..{MAX_THREADS}, got {tile_workers!r}")
        self.ensemble = dihedral.check(ensemble)
        self.strength = strength
        if not isinstance(shuffle, bool):
            raise ValueError(f"shuffle must be True or False, got {shuffle!r}")
        self.shuffle = shuffle
        self._noise = _check_noise(self.card, noise, shuffle)
        self.last_noise: Optional[NoiseProfile] = None   # the profile the last frame was denoised with
        self._profile: Optional[NoiseProfile] = None      # the frame being denoised: its profile
        self._inv_frames: Optional[np.ndarray] = None      # ... and its 1/frame counts (raw())
        self.quantization = quantization
        self.num_threads = int(num_threads or os.cpu_count() or 1)
        self._warned_gray = False
        self._lock = threading.Lock()
        self.tile = tile
        if self.card.temporal:
            raise ModelError(f"{self.card.name} is a temporal model (it also takes its previous output), "
                             f"which bfcnn no longer runs: frame averaging before a still model "
                             f"(AveragingDenoiser, the default for videos and cameras) beats it on every "
                             f"scene; use a still model (bfcnn.list_models())")
        self.backend = check_backend(backend, quantization)
        self._model = self._open_core(self.num_threads)
        self._model_t: Optional[CoreModel] = None  # transposed passes of a non-square frame
        self._model_half: Optional[CoreModel] = None   # the pixel-shuffled sub-images (shuffle)
        self.tile_workers = int(tile_workers)
        self._pyr_threads = max(1, self.num_threads // self.tile_workers)   # the pyramid op's share
        self._pool = None
        self._closed = False
        self._workers: List[CoreModel] = []
        if self.tile_workers > 1:
            from concurrent.futures import ThreadPoolExecutor
            per = max(1, self.num_threads // self.tile_workers)
            self._workers = [self._open_core(per) for _ in range(self.tile_workers)]
            self._pool = ThreadPoolExecutor(self.tile_workers, thread_name_prefix="bfcnn-tile")
        if self.card.noise_input and self._model.quantized:
            raise ModelError(f"{self._model.path}: a noise-conditioned model runs float-input files only "
                             f"(none, float16, dynamic); full-integer files are not made for it")
        expected = self.card.levels * (2 if self.card.noise_input else 1)
        if self._model.num_inputs != expected:
            raise ModelError(f"{self._model.path} has {self._model.num_inputs} inputs but its card says "
                             f"levels={self.card.levels}" + (", noise_input=true" if self.card.noise_input else "")
                             + ": card and model do not match; re-export")

    def _open_core(self, num_threads: int) -> CoreModel:
        return open_core(self.card, self.quantization, self.backend, num_threads)

    # ------------------------------------------------------------------ public
    def close(self) -> None:
        """End the tile workers' threads (tile_workers > 1); calls after close() raise. Also
        `with Denoiser(...) as den:`."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"this Denoiser ({self.card.name}) was closed; make a new one")

    def __enter__(self) -> "Denoiser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def noise(self) -> Optional[NoiseProfile]:
        """The camera's noise profile a noise-conditioned model is told (None: estimated on each
        frame; always None for blind models). Settable, checked like the constructor's `noise`."""
        return self._noise

    @noise.setter
    def noise(self, value: Union[None, str, NoiseProfile]) -> None:
        self._noise = _check_noise(self.card, value, self.shuffle)

    @property
    def core(self) -> CoreModel:
        """The core model this Denoiser runs (pyramid levels in, image out) for upright frames:
        for callers that build their own pyramids (adaptive filters, benchmarks). Not
        serialized by the Denoiser's lock."""
        return self._model

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise one frame; returns the same shape and dtype (see the module docstring)."""
        self._check_open()
        image, squeeze, dtype = validate_frame(image)   # before the lock: a bad frame waits for nothing
        scale = unit_scale(dtype)
        with self._lock:
            out = self._raw(image, scale)
            return finish_output(out, image, scale, self.strength, dtype, squeeze)

    def raw(self, frame: np.ndarray, noise: Optional[NoiseProfile] = None,
            inv_frames: Optional[np.ndarray] = None) -> np.ndarray:
        """The model's output for a frame already range-checked by the caller (float32 [H, W, C],
        ~[0, 1], C = 1 or 3): float32 [H, W, C], neither clipped nor mixed by strength. For stream
        denoisers that hand it a frame they built and finish the output themselves. For a
        noise-conditioned model: `noise`, the profile of one frame (default: the Denoiser's, else
        estimated), and `inv_frames`, float32 [H, W]: 1/n where the frame is a mean of n frames
        with independent noise (frame averaging), which divides the noise variance by n."""
        if not isinstance(frame, np.ndarray) or frame.dtype != np.float32 or frame.ndim != 3 \
                or frame.shape[2] not in (1, 3):
            raise ValueError(f"Denoiser.raw takes float32 [H, W, 1 or 3] frames in [0, 1], got "
                             f"{getattr(frame, 'dtype', type(frame).__name__)} {getattr(frame, 'shape', '')}; "
                             f"call the Denoiser itself for any other frame")
        self._check_open()
        if (noise is not None or inv_frames is not None) and not self.card.noise_input:
            raise ValueError(f"{self.card.name} is a blind model: it takes no noise profile or frame "
                             f"counts; call raw(frame)")
        if inv_frames is not None and (not isinstance(inv_frames, np.ndarray) or inv_frames.dtype != np.float32
                                       or inv_frames.shape != frame.shape[:2]):
            raise ValueError(f"inv_frames must be float32 [H, W] = {frame.shape[:2]}, got "
                             f"{getattr(inv_frames, 'dtype', type(inv_frames).__name__)} {getattr(inv_frames, 'shape', '')}")
        with self._lock:
            return self._raw(frame, np.float32(1.0), noise, inv_frames)

    def _raw(self, image: np.ndarray, scale: np.float32, profile: Optional[NoiseProfile] = None,
             inv_frames: Optional[np.ndarray] = None) -> np.ndarray:
        self._inv_frames = inv_frames if self.card.noise_input else None
        if self.card.noise_input:
            profile = profile or self._noise or (profiles.estimate(image) if profiles.can_estimate(image.shape)
                                                else profiles.rough(image))
            self.last_noise = self._profile = profile
        if self.shuffle and min(image.shape[:2]) >= 4:
            return self._raw_plain(self._shuffled(image, scale), np.float32(1.0))
        return self._raw_plain(image, scale)

    def _shuffled(self, image: np.ndarray, scale: np.float32) -> np.ndarray:
        """Pixel-shuffle downsampling (float32 [H, W, C] out, ~[0, 1]): each of the four stride-2
        sub-images (the pixels of one position in every 2x2 block) denoised as a frame of its
        own, and put back in place. Camera noise is correlated between neighbours (demosaicking,
        the ISP), which a blind model reads as detail and leaves; between pixels two apart it is
        nearly white, which the model removes. A permutation: still bias-free. The reassembly
        keeps a faint 2x2 pattern (four separate estimates), which the caller's second pass on
        the whole frame removes."""
        h, w = image.shape[:2]
        if h % 2 or w % 2:
            image = pad_bottom_right(image, h % 2, w % 2)
        out = np.empty(image.shape, np.float32)
        for i in (0, 1):
            for j in (0, 1):
                out[i::2, j::2] = self._raw_plain(np.ascontiguousarray(image[i::2, j::2]), scale, half=True)
        return out[:h, :w]

    def _raw_plain(self, image: np.ndarray, scale: np.float32, half: bool = False) -> np.ndarray:
        c_model = self.card.channels
        c_in = image.shape[2]
        if c_in == c_model:
            out = self._ensembled(image, scale, half)
        elif c_model == 1:
            whole, planes = self._profile, []
            for i in range(c_in):
                self._profile = whole.channel(i) if whole is not None and whole.channels == c_in else whole
                planes.append(self._ensembled(image[:, :, i:i + 1], scale, half))
            self._profile = whole
            out = np.concatenate(planes, axis=2)
        else:  # colour model, gray frame
            if not self._warned_gray:
                self._warned_gray = True
                warn_gray_frame(self.card.name)
            out = self._ensembled(np.repeat(image, c_model, axis=2), scale, half).mean(axis=2, keepdims=True)
        return out

    # ----------------------------------------------------------------- helpers
    def _ensembled(self, image: np.ndarray, scale: np.float32, half: bool = False) -> np.ndarray:
        """[H, W, C] uint8/float32 -> float32 [H, W, C] in ~[0, 1]: the mean of `ensemble`
        single passes over flipped / rotated copies, each padded and run as a frame of its own
        (so a pass equals what that rotated frame alone would give)."""
        if self._inv_frames is not None:
            # the frame counts travel as one more channel of the frame, so that flips, padding
            # and tiles cut them exactly as the frame (split off again in _run)
            image = np.concatenate([image, self._inv_frames[:, :, None]], axis=2)
        gain = np.float32(1.0)
        if self._model.quantized:
            # int8 models: use the full input range. Bias-free means f(g*y) = g*f(y), so a dark
            # frame is brightened by g before quantization and the output divided by g after;
            # measured (4 CBSD68 images): int8 loses 2.0 / 6.0 dB to float at 1/4 and 1/10
            # brightness without this, 0.36 / 0.29 dB with it. One g per frame, so tiles and
            # ensemble passes agree (padding and flips leave the peak as it is).
            peak = float(image.max()) * float(scale)
            gain = np.float32(min(INT8_MAX_GAIN, 1.0 / peak)) if peak > 0 else np.float32(1.0)
        upright = image.shape[:2]
        out = dihedral.average(lambda img: self._denoise(img, np.float32(scale * gain), img.shape[:2] != upright,
                                                         half), image, self.ensemble)
        if gain != 1.0:
            out *= np.float32(1.0 / gain)
        return out

    def _denoise(self, image: np.ndarray, scale: np.float32, transposed: bool = False,
                 half: bool = False) -> np.ndarray:
        """[H, W, C] uint8/float32 -> float32 [H, W, C] in ~[0, 1], whole or in tiles.
        transposed: a non-square frame's transposed ensemble pass, run on an interpreter of its
        own so that neither shape makes XNNPACK re-initialise every frame."""
        h, w = image.shape[:2]
        stride = self.card.stride
        ph, pw = align_up(h, stride), align_up(w, stride)
        if (ph, pw) != (h, w):  # pad only to the pyramid stride, reflect-101 like the pyramid
            image = pad_bottom_right(image, ph - h, pw - w)
        if transposed and self._model_t is None:
            self._model_t = self._open_core(self.num_threads)
        if half and self._model_half is None:
            self._model_half = self._open_core(self.num_threads)
        main = self._model_half if half else self._model_t if transposed else self._model
        tile = self.tile
        if tile is None and ph * pw > WHOLE_FRAME_MAX_PIXELS:
            tile = 1024
        if tile is None or (tile >= ph and tile >= pw):
            out = self._run(image, scale, main)
        else:
            out = np.empty((ph, pw, image.shape[2]), np.float32)
            todo = list(tiles(ph, pw, tile, self.card.halo, stride))

            def one(t, model):
                res = self._run(image[t.iy0:t.iy1, t.ix0:t.ix1], scale, model)
                out[t.y0:t.y1, t.x0:t.x1] = res[t.y0 - t.iy0:t.y1 - t.iy0, t.x0 - t.ix0:t.x1 - t.ix0]
            if self._pool is None:
                for t in todo:
                    one(t, main)
            else:  # worker i takes tiles i, i+n, ...: one interpreter per thread, never shared
                n = len(self._workers)
                jobs = [self._pool.submit(lambda i=i: [one(t, self._workers[i]) for t in todo[i::n]])
                        for i in range(n)]
                for job in jobs:
                    job.result()
        return out[:h, :w]

    def _run(self, image: np.ndarray, scale: np.float32, model: Optional[CoreModel] = None) -> np.ndarray:
        """[h, w, C] (multiples of the stride) -> float32 [h, w, C]."""
        model = model or self._model
        if self.card.noise_input:
            return self._run_noise(image, scale, model)
        c = image.shape[2]
        if not model.quantized:
            # fused front end: the C++ op converts, scales and builds every level straight
            # into the interpreter's input tensors, no intermediate arrays
            shapes = [(h, w, c) for h, w in pyramid.level_shapes(image.shape[0], image.shape[1], self.card.levels)]
            views = model.input_views(shapes)
            try:
                pyramid.pyramid_down(image, self.card.levels, float(scale), out=views, threads=self._pyr_threads)
            finally:
                # LiteRT refuses to invoke or resize while numpy views of its buffers are alive;
                # a traceback keeps the frames that saw this list alive as long as the exception
                # is referenced, so empty the list itself, not only this name
                views.clear()
                del views
            return model.invoke()
        levels: List[np.ndarray] = pyramid.pyramid_down(image, self.card.levels, float(scale),
                                                        threads=self._pyr_threads)
        return model([lvl if lvl.ndim == 3 else lvl[:, :, None] for lvl in levels])

    def _run_noise(self, image: np.ndarray, scale: np.float32, model: CoreModel) -> np.ndarray:
        """_run for a noise-conditioned model (float-input files only: checked at construction):
        the pyramid, then each level's noise map from the profile (and the frame counts, when they
        ride along as the last channel), both straight into the interpreter's inputs."""
        c = self.card.channels
        inv = None
        if image.shape[2] > c:
            inv = np.ascontiguousarray(image[:, :, c])
            image = np.ascontiguousarray(image[:, :, :c])
        shapes = [(h, w, c) for h, w in pyramid.level_shapes(image.shape[0], image.shape[1], self.card.levels)]
        views = model.input_views(shapes + shapes)
        try:
            n = self.card.levels
            pyramid.pyramid_down(image, n, float(scale), out=views[:n], threads=self._pyr_threads)
            noise_maps.level_maps(self._profile, [v[0] for v in views[:n]], inv, out=[v[0] for v in views[n:]])
        finally:
            views.clear()   # see _run
            del views
        return model.invoke()


def _check_noise(card: ModelCard, noise, shuffle: bool) -> Optional[NoiseProfile]:
    """Denoiser's `noise` argument as a profile (or None); errors name the fix."""
    if noise is None:
        return None
    if not card.noise_input:
        raise ValueError(f"{card.name} is a blind model: it takes no noise profile; use a "
                         f"noise-conditioned model (edge_color_noisemap) with noise=, or drop it")
    if isinstance(noise, str):
        noise = profiles.load(noise)
    if not isinstance(noise, NoiseProfile):
        raise TypeError(f"noise must be a noise.NoiseProfile, a path to one saved as JSON, or None "
                        f"(measured on each frame), got {type(noise).__name__}")
    if noise.channels not in (1, card.channels):
        raise ValueError(f"a {noise.channels}-channel noise profile cannot describe {card.name}'s "
                         f"{card.channels}-channel frames; measure it on the frames you denoise")
    if shuffle:
        raise ValueError("shuffle is for blind models on correlated noise; a noise-conditioned model "
                         "is told the correlation by its noise profile: drop shuffle")
    return noise
