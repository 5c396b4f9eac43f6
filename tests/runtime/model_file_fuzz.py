"""Damage a shipped model file N ways, rewrite its card's sha256 to match (an honest-looking
card on a damaged file), and load + run each copy. Run in a subprocess with a 3 GB address-space
limit: every case must run or raise ModelError; a crash, another exception or a memory blow-up
fails the run.
    python tests/runtime/model_file_fuzz.py NAME QUANTIZATION FIRST_SEED N OUT_DIR
"""
import hashlib
import json
import os
import resource
import shutil
import sys

import numpy as np

resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from bfcnn.runtime import Denoiser  # noqa: E402
from bfcnn.zoo import ModelError, resolve  # noqa: E402


def damaged(data: bytes, seed: int) -> bytes:
    """1-3 random bytes replaced, mostly in the first 2 KB or last 4 KB (where the tables are)."""
    rng = np.random.default_rng(seed)
    d = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        u = rng.random()
        if u < 0.3:
            pos = int(rng.integers(0, len(d)))
        elif u < 0.65:
            pos = int(rng.integers(0, min(2048, len(d))))
        else:
            pos = len(d) - 1 - int(rng.integers(0, min(4096, len(d))))
        d[pos] = int(rng.integers(0, 256))
    return bytes(d)


def main() -> None:
    name, q, first, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    card = resolve(name)
    data = open(card.file_for(q), "rb").read()
    counts = {"ran": 0, "refused": 0}
    for seed in range(first, first + n):
        dst = os.path.join(out, "model")
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(card.directory, dst)
        bad = damaged(data, seed)
        open(os.path.join(dst, card.quantization[q]["file"]), "wb").write(bad)
        path = os.path.join(dst, "card.json")
        doc = json.load(open(path))
        doc["quantization"][q]["sha256"] = hashlib.sha256(bad).hexdigest()
        json.dump(doc, open(path, "w"))
        try:
            den = Denoiser(dst, num_threads=1, quantization=q)
            den(np.full((40, 48, card.channels), 100, np.uint8))
            counts["ran"] += 1
        except ModelError:
            counts["refused"] += 1
        except Exception as exc:
            raise SystemExit(f"seed {seed}: {type(exc).__name__}: {exc}")
    print(f"{n} damaged files: {counts['ran']} ran, {counts['refused']} refused with ModelError")


if __name__ == "__main__":
    main()
