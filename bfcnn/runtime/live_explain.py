"""--explain-pixel: the adaptive filter of one pixel, recomputed in the background on the newest
frame and drawn over the live view (bfcnn-runtime --display / --serve).

Measuring a filter takes (2r+1)^2 * C model runs on a crop (finite differences, see
adaptive_filter.py), far more than one frame, so it never runs in the frame loop: a
background thread with its own 1-thread interpreter refreshes it whenever it is free, and
the view shows the latest one. Its cost is what it takes from the denoiser: RESULTS.md.
"""
from __future__ import annotations

import threading
import time
from typing import Optional, Tuple

import cv2
import numpy as np

from bfcnn.runtime.adaptive_filter import adaptive_filters
from bfcnn.runtime.pipeline import LatestSlot, END


class FilterProbe:
    """Background filter of pixel (x, y) of the newest submitted frame (uint8 HxW[xC])."""

    def __init__(self, model: str, pixel: Tuple[int, int], radius: int = 6) -> None:
        from bfcnn.runtime.denoiser import Denoiser
        self.den = Denoiser(model, num_threads=1, quantization="none")
        self.pixel, self.radius = pixel, radius
        self.heat: Optional[np.ndarray] = None
        self.updates, self.seconds = 0, 0.0
        self.outside: Optional[Tuple[int, int]] = None   # (w, h) of a frame the pixel is not in
        self._slot = LatestSlot()
        self._thread = threading.Thread(target=self._loop, name="bfcnn-explain", daemon=True)
        self._thread.start()

    def submit(self, image: np.ndarray) -> None:
        x, y = self.pixel
        if not (0 <= x < image.shape[1] and 0 <= y < image.shape[0]):
            self.outside = (image.shape[1], image.shape[0])   # said in the summary; nothing to compute
            return
        self._slot.put(image)

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        img = image if image.ndim == 3 else image[:, :, None]
        c = self.den.card.channels
        if img.shape[2] != c:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[:, :, None] if c == 1 else np.repeat(img, 3, axis=2)
        return img.astype(np.float32) / np.float32(255.0)

    def _loop(self) -> None:
        while True:
            image = self._slot.get(timeout=0.5)
            if image is END:
                return
            if image is None:
                continue
            x, y = self.pixel
            if not (0 <= x < image.shape[1] and 0 <= y < image.shape[0]):
                continue
            start = time.perf_counter()
            f = adaptive_filters(self.den, self._prepare(image), [self.pixel], self.radius)[0]
            self.heat = f.heat_map()
            self.seconds += time.perf_counter() - start
            self.updates += 1

    def draw(self, view: np.ndarray, frame_width: int) -> np.ndarray:
        """Mark the pixel in both halves of a side-by-side view and inset the latest filter."""
        x, y = self.pixel
        for dx in (0, frame_width) if view.shape[1] >= 2 * frame_width else (0,):
            cv2.circle(view, (x + dx, y), 6, (0, 255, 255), 1)
        if self.heat is None:
            return view
        lim = max(1e-6, float(np.abs(self.heat).max()))
        norm = np.clip(128 + 127 * self.heat / lim, 0, 255).astype(np.uint8)
        size = min(160, view.shape[0] // 2)
        inset = cv2.applyColorMap(cv2.resize(norm, (size, size), interpolation=cv2.INTER_NEAREST), cv2.COLORMAP_JET)
        view[8:8 + size, view.shape[1] - size - 8:view.shape[1] - 8] = inset
        return view

    def close(self) -> None:
        self._slot.close()
        self._thread.join(timeout=10)

    def summary(self) -> str:
        per = 1000 * self.seconds / max(1, self.updates)
        text = f"explain-pixel {self.pixel}: {self.updates} filter updates, {per:.0f} ms each"
        if self.outside is not None:
            text += (f"; the pixel is outside the {self.outside[0]}x{self.outside[1]} frames "
                     f"(X in 0..{self.outside[0] - 1}, Y in 0..{self.outside[1] - 1}): no filter there")
        return text
