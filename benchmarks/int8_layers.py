"""Where does an int8 file lose to its float twin? Every tensor of both TFLite files on one
noisy image: the float value range, the range int8 can represent there, the int8 error x 255
(grey levels for image-space tensors: outputs, corrections, levels) and relative to the
tensor's own spread (for features). Read both: an op can look bad relative to its own tiny
scale and not matter in grey levels (seen: the pyramid correction's subtraction).
Usage: python benchmarks/int8_layers.py MODEL [--image PATH] [--sigma 25] [--top 25]
MODEL: a shipped name or exported folder with model.tflite and model_int8.tflite.
"""
import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bfcnn.evaluation import dataset_root  # noqa: E402

DATASETS = dataset_root()


from bfcnn.runtime.core_model import input_order  # noqa: E402


def tensors(path: str, pyramid):
    """{name: float32 array} of every 4-D tensor after one invoke (int8 ones dequantized)."""
    import tensorflow as tf   # the LiteRT wheel cannot preserve intermediate tensors
    it = tf.lite.Interpreter(model_path=path, experimental_preserve_all_tensors=True)
    inputs = input_order(it.get_input_details())
    for d, level in zip(inputs, pyramid):
        it.resize_tensor_input(d["index"], level.shape)
    it.allocate_tensors()
    for d, level in zip(input_order(it.get_input_details()), pyramid):
        if d["dtype"] == np.uint8:
            scale, zero = d["quantization"]
            level = np.clip(np.round(level / scale + zero), 0, 255).astype(np.uint8)
        it.set_tensor(d["index"], level)
    it.invoke()
    out = {}
    for d in it.get_tensor_details():
        try:
            v = it.get_tensor(d["index"])
        except ValueError:
            continue
        if v.ndim == 4 and v.shape[0] == 1:
            scale, zero = d["quantization"]
            v = (v.astype(np.float32) - zero) * scale if v.dtype in (np.int8, np.uint8) and scale else v
            out[d["name"].split(";")[0]] = (v.astype(np.float32), scale, zero, d["dtype"])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--image", default="")
    p.add_argument("--sigma", type=float, default=25.0)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    from bfcnn.runtime import pyramid as pyr_op
    from bfcnn.zoo import resolve
    card = resolve(args.model)
    folder = os.path.join(DATASETS, "CBSD68" if card.channels == 3 else "BSD68")
    image = args.image or os.path.join(folder, sorted(os.listdir(folder))[1])   # BSD68: test002.png
    clean = cv2.imread(image, cv2.IMREAD_COLOR if card.channels == 3 else cv2.IMREAD_GRAYSCALE)
    s = card.stride
    clean = clean[: clean.shape[0] // s * s, : clean.shape[1] // s * s].reshape(-1, clean.shape[1] // s * s, card.channels)
    rng = np.random.default_rng(0)
    noisy = np.clip(np.rint(clean + rng.normal(0, args.sigma, clean.shape)), 0, 255).astype(np.uint8)
    levels = [lvl.reshape(1, lvl.shape[0], lvl.shape[1], card.channels)
              for lvl in pyr_op.pyramid_down(noisy, card.levels, scale=1.0 / 255.0)]
    f = tensors(card.file_for("none"), levels)
    q = tensors(card.file_for("int8"), levels)
    rows = []
    for name, (v, scale, zero, dtype) in q.items():
        if name not in f or f[name][0].shape != v.shape or dtype == np.int32:
            continue
        fv = f[name][0]
        lo, hi = ((-128 - zero) * scale, (127 - zero) * scale) if dtype == np.int8 else ((0 - zero) * scale, (255 - zero) * scale)
        rms = np.sqrt(np.mean((fv - v) ** 2))
        rows.append((name, fv.min(), fv.max(), lo, hi, 255.0 * rms, rms / (fv.std() + 1e-12)))
    print(f"{card.name}: sigma {args.sigma:g} on {os.path.basename(image)}; ranges on the [0, 1] image scale, "
          f"error in grey levels (0-255)")
    print(f"{'tensor':60s} {'float range':>18s} {'int8 range':>18s} {'rms x255':>9s} {'rms/std':>8s}")
    for name, a, b, lo, hi, err, rel in sorted(rows, key=lambda r: -r[-1])[: args.top]:
        print(f"{name[-60:]:60s} [{a:7.3f},{b:7.3f}] [{lo:7.3f},{hi:7.3f}] {err:9.2f} {rel:8.3f}")


if __name__ == "__main__":
    main()
