"""Embed the Denoiser in your own app loop: frames from anywhere (here a synthetic generator),
float32 [0, 1] in and out, gray or colour, and the model card for what the model is."""
import numpy as np

from bfcnn.runtime import Denoiser


def frames(count: int, rng: np.random.Generator):
    """Stand-in for your camera: a moving gradient with noise, float32 HxWx3 in [0, 1]."""
    y, x = np.mgrid[0:120, 0:160].astype(np.float32)
    for t in range(count):
        clean = (0.5 + 0.4 * np.sin((x + 4 * t) / 15.0) * np.cos(y / 20.0))[:, :, None].repeat(3, axis=2)
        yield clean, np.clip(clean + rng.normal(0, 0.08, clean.shape), 0, 1).astype(np.float32)


def main() -> None:
    den = Denoiser("edge_color_realtime", num_threads=1)
    card = den.card
    print(f"{card.name}: {card.channels} channels, {card.levels} levels, halo {card.halo} px, "
          f"bias-free {card.bias_free}, {card.macs_per_pixel:.0f} multiply-adds per pixel")
    rng = np.random.default_rng(0)
    for i, (clean, noisy) in enumerate(frames(5, rng)):
        out = den(noisy)
        err_in = np.sqrt(np.mean((noisy - clean) ** 2))
        err_out = np.sqrt(np.mean((out - clean) ** 2))
        print(f"frame {i}: rms error {err_in:.4f} -> {err_out:.4f}")


if __name__ == "__main__":
    main()
