"""Copy an exported model into the package: python tools/ship_model.py EXPORTED_DIR NAME [--only none int8]
Add files to a shipped model:            python tools/ship_model.py EXPORTED_DIR NAME --add dynamic

Copies card.json, the listed .tflite files and model.onnx when the card has one (not
saved_model/ or pipeline.json) into
bfcnn/pretrained/NAME/, after checking each file against the card's sha256 and that the
card's name is NAME. Files of quantizations left out are dropped from the shipped card
(e.g. an int8 file that lost too much to float). The recipe (config + RESULTS.md line) is
yours to record.

--add Q ...: keep the shipped model as it is (its card, lineage and files) and add only the
files of quantizations Q from an export of the same weights: the exported float file must be
byte-identical to the shipped one. A re-export cannot keep the lineage itself (it would record
the shipped model as its own parent).
"""
import argparse
import filecmp
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bfcnn.runtime.files import atomic_write_bytes  # noqa: E402
from bfcnn.zoo import ModelCard, ModelError, card_bytes, verify, verify_onnx  # noqa: E402

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")   # a shipped model's folder name
PRETRAINED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bfcnn", "pretrained")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exported")
    p.add_argument("name")
    p.add_argument("--only", nargs="+", default=None, help="quantizations to ship (default: all in the card)")
    p.add_argument("--add", nargs="+", default=None,
                   help="add these quantizations' files to the shipped model (same weights) and change nothing else")
    args = p.parse_args()
    if args.add and args.only:
        p.error("--add and --only do not go together: --add keeps the shipped files and adds the listed ones")
    if not NAME.fullmatch(args.name) or args.name in (".", ".."):
        print(f"error: NAME {args.name!r} must be a plain folder name (letters, digits, '_', '-', '.'; not "
              f"'.' or '..'): it becomes bfcnn/pretrained/NAME, and only that folder is replaced; export "
              f"with --name to give the model one", file=sys.stderr)
        return 2
    with open(os.path.join(args.exported, "card.json"), encoding="utf-8") as f:
        card = json.load(f)
    if card["name"] != args.name:
        print(f"error: the card is named {card['name']!r}; export again with --name {args.name}", file=sys.stderr)
        return 2
    if args.add:
        return add_files(args.exported, card, args.name, args.add)
    keep = args.only or list(card["quantization"])
    missing = [q for q in keep if q not in card["quantization"]]
    if missing:
        print(f"error: {missing} not in the card (it has {list(card['quantization'])})", file=sys.stderr)
        return 2
    card["quantization"] = {q: card["quantization"][q] for q in keep}
    if "int8" not in keep:   # the int8_* notes describe a file that is not shipped
        for key in [k for k in card if k.startswith("int8_")]:
            del card[key]
    exported = ModelCard.from_file(os.path.join(args.exported, "card.json"))
    try:
        for q in keep:
            verify(exported, q)   # the file exists, is TFLite and matches the card's sha256
        if exported.onnx:
            verify_onnx(exported)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = os.path.join(PRETRAINED, args.name)
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for entry in list(card["quantization"].values()) + ([card["onnx"]] if card.get("onnx") else []):
        shutil.copyfile(os.path.join(args.exported, entry["file"]), os.path.join(tmp, entry["file"]))
    with open(os.path.join(tmp, "card.json"), "wb") as f:
        f.write(card_bytes(card))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    print(f"shipped {args.name}: {', '.join(keep)} -> {out}")
    return 0


def add_files(exported_dir: str, exported: dict, name: str, modes: list) -> int:
    """Add the files of `modes` (and their export checks) from an export of the shipped weights."""
    out = os.path.join(PRETRAINED, name)
    if not os.path.isfile(os.path.join(out, "card.json")):
        print(f"error: no shipped model {name!r} in {PRETRAINED}; ship it first without --add", file=sys.stderr)
        return 2
    with open(os.path.join(out, "card.json"), encoding="utf-8") as f:
        shipped = json.load(f)
    floats = [os.path.join(d, c["quantization"]["none"]["file"]) if "none" in c["quantization"] else None
              for d, c in ((exported_dir, exported), (out, shipped))]
    if None in floats or not filecmp.cmp(floats[0], floats[1], shallow=False):
        print(f"error: the exported float file is not byte-identical to the shipped {name!r} one (or one "
              f"has none): --add is for files of the same weights; ship a new model without --add",
              file=sys.stderr)
        return 2
    missing = [q for q in modes if q not in exported["quantization"] or q == "none"]
    if missing:
        print(f"error: {missing} cannot be added (the export has {list(exported['quantization'])}; "
              f"'none' is the shipped float file itself)", file=sys.stderr)
        return 2
    present = [q for q in modes if q in shipped["quantization"]]
    if present:
        print(f"error: {name!r} already ships {present}; --add only adds files (re-ship the model to "
              f"replace one)", file=sys.stderr)
        return 2
    try:
        card = ModelCard.from_file(os.path.join(exported_dir, "card.json"))
        for q in modes:
            verify(card, q)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for q in modes:
        entry = exported["quantization"][q]
        shutil.copyfile(os.path.join(exported_dir, entry["file"]), os.path.join(out, entry["file"]))
        shipped["quantization"][q] = entry
        if q in exported.get("export_check", {}):
            shipped.setdefault("export_check", {})[q] = exported["export_check"][q]
    atomic_write_bytes(os.path.join(out, "card.json"), card_bytes(shipped))   # never half a card
    print(f"added {', '.join(modes)} to {name} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
