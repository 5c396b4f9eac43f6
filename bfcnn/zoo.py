"""Model cards and the models shipped inside the package (no TensorFlow).

A model is a folder with `card.json` and one `.tflite` per quantization mode
(bfcnn/pretrained/<name>/ for shipped ones, or any exported --output-directory).
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from bfcnn.tflite_check import DamagedModel, check_tflite

PRETRAINED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained")
# what Denoiser(None) and bfcnn-runtime run: the best model on real photos at >= 30 frames/s
# (640x480 colour, 2 threads); benchmarks/RESULTS.md has the numbers
DEFAULT_MODEL = "edge_color_realtime"


class ModelError(ValueError):
    """A model name, path, file or card is wrong; the message says what to do."""


@dataclass(frozen=True)
class ModelCard:
    """What a model is: read from card.json beside its .tflite files."""
    name: str
    type: str
    channels: int
    levels: int
    halo: int
    stride: int
    bias_free: bool
    quantization: Dict[str, Dict]
    channel_order: str = "BGR"
    value_range: Tuple[float, float] = (0.0, 255.0)
    macs_per_pixel: float = 0.0
    parameters: int = 0
    training_noise: Dict = field(default_factory=dict)
    training_steps: int = 0
    fine_tuned_from: Dict = field(default_factory=dict)   # {} when trained from scratch
    architecture: Dict = field(default_factory=dict)      # the pipeline's model section
    temporal: bool = False   # a temporal model (inputs prev_0 ...): read only to refuse it
    noise_input: bool = False   # also takes noise maps, inputs noise_0 ... (runtime/noise_maps.py)
    onnx: Dict = field(default_factory=dict)   # {} or the float model as ONNX: file, sha256, bytes, ...
    recipe: str = ""   # the pipeline config that trained it (configs/... for the shipped models)
    directory: str = ""

    @classmethod
    def from_file(cls, path: str) -> "ModelCard":
        try:
            if os.path.getsize(path) > MAX_CARD_BYTES:
                raise ModelError(f"model card {path} is over {MAX_CARD_BYTES} bytes: not a bfcnn card")
            with open(path, "r", encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError, RecursionError) as exc:   # ValueError: bad JSON or UTF-8
            raise ModelError(f"cannot read model card {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelError(f"model card {path} must be a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [n for n in ("name", "type", "channels", "levels", "halo", "stride", "bias_free",
                               "quantization") if n not in data]
        if missing:
            raise ModelError(f"model card {path} lacks {missing}; re-export the model with python -m bfcnn.export")
        kwargs = {k: v for k, v in data.items() if k in names}
        _check_card(kwargs, path)
        kwargs["value_range"] = tuple(kwargs.get("value_range", (0.0, 255.0)))
        return cls(**kwargs, directory=os.path.dirname(os.path.abspath(path)))

    def file_for(self, quantization: str) -> str:
        if quantization not in self.quantization:
            raise ModelError(f"model {self.name!r} has no {quantization!r} file; it has "
                             f"{', '.join(sorted(self.quantization))}")
        return os.path.join(self.directory, self.quantization[quantization]["file"])


def card_bytes(card: Dict) -> bytes:
    """card.json as strict JSON: NaN and infinities (e.g. a PSNR of identical images) become
    null, which every JSON parser reads; Python's default 'Infinity' is not JSON."""
    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v
    return json.dumps(clean(card), indent=2, allow_nan=False).encode()


def _check_card(d: Dict, path: str) -> None:
    """The card's fields as strictly as a pipeline config: types, ranges and the links between
    them. A wrong card gives wrong output silently (a stride that is not the pyramid's misaligns
    tiles), so every error names the field and the fix: re-export."""
    def bad(field_name: str, want: str) -> None:
        raise ModelError(f"model card {path}: {field_name} must be {want}, got {d.get(field_name)!r}; "
                         f"re-export the model (python -m bfcnn.export)")

    def is_int(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)
    for name in ("name", "type"):
        if not isinstance(d.get(name), str) or not d[name]:
            bad(name, "a non-empty string")
    if d.get("channels") not in (1, 3) or not is_int(d["channels"]):
        bad("channels", "1 or 3")
    if not is_int(d.get("levels")) or not 1 <= d["levels"] <= 8:
        bad("levels", "an integer in 1..8")
    if not is_int(d.get("stride")) or d["stride"] != 2 ** (d["levels"] - 1):
        bad("stride", f"2**(levels-1) = {2 ** (d['levels'] - 1)}")
    if not is_int(d.get("halo")) or d["halo"] < 0 or d["halo"] % d["stride"] or d["halo"] > 4096:
        bad("halo", f"a multiple of the stride ({d['stride']}) in 0..4096")
    if not isinstance(d.get("bias_free"), bool):
        bad("bias_free", "true or false")
    if not isinstance(d.get("temporal", False), bool):
        bad("temporal", "true or false")
    if not isinstance(d.get("noise_input", False), bool):
        bad("noise_input", "true or false")
    vr = d.get("value_range", [0.0, 255.0])
    if not (isinstance(vr, (list, tuple)) and len(vr) == 2 and all(isinstance(v, (int, float)) for v in vr)):
        bad("value_range", "[min, max]")
    q = d.get("quantization")
    if not isinstance(q, dict) or not q:
        bad("quantization", "an object naming at least one file")
    entries = [(f"quantization.{mode}", entry, ".tflite") for mode, entry in q.items()]
    if d.get("onnx"):
        entries.append(("onnx", d["onnx"], ".onnx"))
    for where, entry, ext in entries:
        ok = (isinstance(entry, dict) and isinstance(entry.get("file"), str)
              and entry["file"].endswith(ext) and os.path.basename(entry["file"]) == entry["file"]
              and entry["file"] != ext
              and isinstance(entry.get("sha256"), str) and len(entry["sha256"]) == 64
              and all(c in "0123456789abcdef" for c in entry["sha256"])
              and is_int(entry.get("bytes", 1)) and entry.get("bytes", 1) > 0)
        if not ok:
            raise ModelError(f"model card {path}: {where} must be {{\"file\": NAME{ext} beside "
                             f"the card, \"sha256\": 64 hex digits, \"bytes\": N}}, got {entry!r}; re-export")


def list_models() -> List[str]:
    """Names of the models shipped inside the package, sorted."""
    if not os.path.isdir(PRETRAINED_DIR):
        return []
    return sorted(d for d in os.listdir(PRETRAINED_DIR)
                  if os.path.isfile(os.path.join(PRETRAINED_DIR, d, "card.json")))


def cards() -> List[ModelCard]:
    return [ModelCard.from_file(os.path.join(PRETRAINED_DIR, n, "card.json")) for n in list_models()]


MAX_MODEL_BYTES = 256 << 20   # bfcnn models are well under 1 MB; this bounds what is read
MAX_CARD_BYTES = 1 << 20


def verify(card: ModelCard, quantization: str) -> str:
    """Path of the model file after checking that it is a regular file of the card's size,
    matches the card's sha256 (read in chunks, never more than the card's size) and is a
    structurally sound TFLite flatbuffer (bfcnn.tflite_check)."""
    entry = card.quantization[quantization] if quantization in card.quantization else None
    path = card.file_for(quantization)
    data = _checked_bytes(card, entry, path, f"its {quantization!r} file")
    try:
        check_tflite(data, path)
    except DamagedModel as exc:
        raise ModelError(str(exc)) from None
    return path


def verify_onnx(card: ModelCard) -> str:
    """Path of the model's ONNX file (the float model, for ONNX Runtime) after the same size
    and sha256 checks as verify(); ONNX Runtime parses the protobuf itself."""
    return read_onnx(card)[0]


def read_onnx(card: ModelCard) -> Tuple[str, bytes]:
    """(path, bytes) of the model's ONNX file after verify_onnx's checks: the bytes that were
    checked, for ONNX Runtime to build its session from."""
    if not card.onnx:
        raise ModelError(f"model {card.name!r} has no ONNX file; write one beside its card with "
                         f"python -m bfcnn.export --onnx-only {card.directory} (needs the "
                         f"trainer: pip install -e \".[train]\"), or use backend='litert'")
    path = os.path.join(card.directory, card.onnx["file"])
    return path, _checked_bytes(card, card.onnx, path, "its ONNX file")


def _checked_bytes(card: ModelCard, entry: Optional[Dict], path: str, what: str) -> bytes:
    """The file's bytes, after checking it is a regular file of the card's size and sha256."""
    import stat
    want = entry.get("sha256") if entry else None
    if not want:
        raise ModelError(f"card.json of {card.name!r} has no sha256 for {what}, so "
                         f"the file cannot be checked; re-export the model (python -m bfcnn.export)")
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ModelError(f"model file {path} cannot be read ({exc}); re-export or reinstall bfcnn") from exc
    if not stat.S_ISREG(st.st_mode):
        raise ModelError(f"model file {path} is not a regular file (a device, pipe or folder)")
    size = entry.get("bytes", st.st_size)
    if st.st_size != size or not 8 <= size <= MAX_MODEL_BYTES:
        raise ModelError(f"model file {path} has {st.st_size} bytes, its card says {size}: truncated, "
                         f"corrupted or from another export; re-export the model")
    digest, chunks, read = hashlib.sha256(), [], 0
    with open(path, "rb") as f:
        while read < size:
            chunk = f.read(min(1 << 20, size - read))
            if not chunk:
                break
            digest.update(chunk)
            chunks.append(chunk)
            read += len(chunk)
    if digest.hexdigest() != want:
        raise ModelError(f"model file {path} does not match its card.json (sha256 differs): it is "
                         f"truncated, corrupted or from another export; re-export the model")
    return b"".join(chunks)


def pick_quantization(card: ModelCard, model: str, quantization: Optional[str]) -> str:
    """Which of the card's files to run. A .tflite path names its own file; an explicit
    `quantization` that contradicts it is an error, not a silent switch to another file.
    Otherwise `quantization`, or "none" (float32) when present."""
    named = None
    if isinstance(model, (str, os.PathLike)) and os.fspath(model).endswith(".tflite"):
        base = os.path.basename(os.fspath(model))
        named = next((q for q, entry in card.quantization.items() if entry.get("file") == base), None)
        if named is None:
            raise ModelError(f"{model} is not listed in its card.json (files: "
                             f"{', '.join(e.get('file', '?') for e in card.quantization.values())}); re-export")
    if quantization is not None and named is not None and quantization != named:
        raise ModelError(f"{os.path.basename(os.fspath(model))} is the {named!r} file but quantization="
                         f"{quantization!r} was asked; pass the model folder with quantization={quantization!r}, "
                         f"or the file alone")
    if quantization is not None:
        return quantization
    if named is not None:
        return named
    return "none" if "none" in card.quantization else sorted(card.quantization)[0]


def resolve(model: str) -> ModelCard:
    """A shipped model name, a model folder, or a .tflite path with card.json beside it."""
    if not isinstance(model, (str, os.PathLike)):
        raise ModelError(f"model must be a name or a path, got {type(model).__name__}")
    model = os.fspath(model)
    if os.path.isdir(model) and os.path.isfile(os.path.join(model, "card.json")):
        return ModelCard.from_file(os.path.join(model, "card.json"))
    if model.endswith(".tflite"):
        card_path = os.path.join(os.path.dirname(os.path.abspath(model)), "card.json")
        if not os.path.isfile(model):
            raise ModelError(f"model file {model!r} does not exist")
        if not os.path.isfile(card_path):
            raise ModelError(f"{model} has no card.json beside it; export with python -m bfcnn.export")
        return ModelCard.from_file(card_path)
    shipped = list_models()
    if model in shipped:
        return ModelCard.from_file(os.path.join(PRETRAINED_DIR, model, "card.json"))
    close = difflib.get_close_matches(model, shipped, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ModelError(f"unknown model {model!r}.{hint} Shipped models: {', '.join(shipped) or 'none'}; "
                     f"or pass a path to an exported model folder or .tflite file")
