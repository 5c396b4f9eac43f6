"""Structural check of a TFLite flatbuffer before LiteRT sees it.

LiteRT trusts its input: a damaged file can crash it in allocate_tensors or make it claim
gigabytes, even when the card's sha256 was rewritten to match. This walks the parts of the
schema that size memory and index arrays (model, operator codes, subgraphs, tensors,
operators, buffers) and refuses, with DamagedModel, any offset outside the file, any index
out of range, any unknown type or operator code, any tensor too large to be one of ours,
and any constant whose data does not have its tensor's size. Pure Python, no dependencies;
a few milliseconds for a shipped model. A leaf module: bfcnn.zoo.verify runs it and turns
DamagedModel into its ModelError.

Flatbuffer layout used here: a table at t starts with an int32 back-offset to its vtable;
the vtable holds uint16 sizes then one uint16 offset per field (0 = absent); reference
fields hold a uint32 forward offset; a vector is a uint32 count followed by its elements.
"""
from __future__ import annotations

import struct
from typing import List, Optional


# bytes per element of each TensorType (schema order: FLOAT32, FLOAT16, INT32, UINT8, INT64,
# STRING, BOOL, INT16, COMPLEX64, INT8, FLOAT64, COMPLEX128, UINT64, RESOURCE, VARIANT, UINT32,
# UINT16, INT4); 0 = variable-size types we never ship
_TYPE_BYTES = (4, 2, 4, 1, 8, 0, 1, 2, 8, 1, 8, 16, 8, 0, 0, 4, 2, 1)
MAX_BUILTIN_CODE = 255           # BuiltinOperator values are well below this
MAX_TENSOR_BYTES = 1 << 28       # 256 MB: far above any bfcnn tensor at its exported shape
MAX_DIM = 1 << 20


class DamagedModel(ValueError):
    """The bytes are not a structurally sound TFLite model; the message names the file and the fix."""


class _Reader:
    def __init__(self, data: bytes, path: str) -> None:
        self.data, self.path = data, path

    def fail(self, what: str) -> None:
        raise DamagedModel(f"{self.path} is not a valid TFLite model ({what}); it is damaged: "
                         f"re-export it (python -m bfcnn.export) or reinstall bfcnn")

    def _unpack(self, fmt: str, pos: int):
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.data):
            self.fail(f"offset {pos} outside the file")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def table(self, pos: int) -> "_Table":
        vt = pos - self._unpack("<i", pos)
        vt_size = self._unpack("<H", vt)
        if vt_size < 4 or vt_size % 2:
            self.fail(f"bad vtable at {vt}")
        self._unpack("<H", vt + vt_size - 2)   # the whole vtable lies inside the file
        return _Table(self, pos, vt, vt_size)

    def ref(self, pos: int) -> int:
        return pos + self._unpack("<I", pos)

    def vector(self, pos: int, elem_size: int) -> range:
        """Positions of the elements of the vector at `pos` (bounds-checked)."""
        n = self._unpack("<I", pos)
        if pos + 4 + n * elem_size > len(self.data):
            self.fail(f"vector of {n} at {pos} runs past the end of the file")
        return range(pos + 4, pos + 4 + n * elem_size, elem_size)


class _Table:
    def __init__(self, r: _Reader, pos: int, vt: int, vt_size: int) -> None:
        self.r, self.pos, self.vt, self.vt_size = r, pos, vt, vt_size

    def field(self, i: int) -> Optional[int]:
        at = 4 + 2 * i
        if at >= self.vt_size:
            return None
        off = self.r._unpack("<H", self.vt + at)
        return None if off == 0 else self.pos + off

    def scalar(self, i: int, fmt: str, default=0):
        p = self.field(i)
        return default if p is None else self.r._unpack(fmt, p)

    def tables(self, i: int) -> List[_Table]:
        p = self.field(i)
        return [] if p is None else [self.r.table(self.r.ref(e)) for e in self.r.vector(self.r.ref(p), 4)]

    def ints(self, i: int) -> List[int]:
        p = self.field(i)
        return [] if p is None else [self.r._unpack("<i", e) for e in self.r.vector(self.r.ref(p), 4)]

    def floats(self, i: int) -> List[float]:
        p = self.field(i)
        return [] if p is None else [self.r._unpack("<f", e) for e in self.r.vector(self.r.ref(p), 4)]

    def longs(self, i: int) -> List[int]:
        p = self.field(i)
        return [] if p is None else [self.r._unpack("<q", e) for e in self.r.vector(self.r.ref(p), 8)]

    def table_at(self, i: int) -> Optional["_Table"]:
        p = self.field(i)
        return None if p is None else self.r.table(self.r.ref(p))

    def bytes_len(self, i: int) -> int:
        p = self.field(i)
        return 0 if p is None else len(self.r.vector(self.r.ref(p), 1))


def check_tflite(data: bytes, path: str) -> None:
    """Raise DamagedModel unless `data` is a structurally sound TFLite model of the kind bfcnn
    exports (builtin operators only)."""
    r = _Reader(data, path)
    if len(data) < 8 or data[4:8] != b"TFL3":
        r.fail("no TFL3 identifier")
    model = r.table(r.ref(0))
    codes = model.tables(1)
    for code in codes:
        builtin = max(code.scalar(0, "<b"), code.scalar(3, "<i"))
        if code.field(1) is not None or not 0 <= builtin <= MAX_BUILTIN_CODE:
            r.fail(f"operator code {builtin} is not a builtin operator")
    buffers = model.tables(4)
    sizes = []
    for b in buffers:
        size = b.bytes_len(0)
        offset, ext = b.scalar(1, "<Q"), b.scalar(2, "<Q")
        if ext and (offset + ext > len(data) or offset < 8):
            r.fail("a buffer points outside the file")
        sizes.append(size or ext)
    subgraphs = model.tables(2)
    if not subgraphs:
        r.fail("no subgraph")
    for sg in subgraphs:
        tensors = sg.tables(0)
        n = len(tensors)
        for t in tensors:
            kind = t.scalar(1, "<b")
            if not 0 <= kind < len(_TYPE_BYTES) or _TYPE_BYTES[kind] == 0:
                r.fail(f"tensor type {kind}")
            shape = t.ints(0)
            count = 1
            for d in shape:
                if not 0 <= d <= MAX_DIM:
                    r.fail(f"tensor dimension {d}")
                count *= d
            if count * _TYPE_BYTES[kind] > MAX_TENSOR_BYTES:
                r.fail(f"a tensor of {count * _TYPE_BYTES[kind]} bytes")
            _check_quantization(r, t.table_at(4), shape, kind)
            if t.field(3) is not None:
                name = t.r.ref(t.field(3))
                try:
                    bytes(data[name + 4:name + 4 + len(r.vector(name, 1))]).decode("utf-8")
                except UnicodeDecodeError:
                    r.fail("a tensor name is not UTF-8")
            buf = t.scalar(2, "<I")
            if buf >= max(len(buffers), 1):
                r.fail(f"buffer index {buf} of {len(buffers)}")
            if buf and sizes[buf] and sizes[buf] != count * _TYPE_BYTES[kind]:
                r.fail(f"a constant of {sizes[buf]} bytes for a tensor of {count * _TYPE_BYTES[kind]}")
        for idx in sg.ints(1) + sg.ints(2):
            if not 0 <= idx < n:
                r.fail(f"subgraph input/output {idx} of {n} tensors")
        for op in sg.tables(3):
            if not op.scalar(0, "<I") < len(codes):
                r.fail(f"operator code index {op.scalar(0, '<I')} of {len(codes)}")
            for idx in op.ints(1) + op.ints(2):
                if not -1 <= idx < n:
                    r.fail(f"operator tensor index {idx} of {n}")


def _check_quantization(r: _Reader, q: Optional[_Table], shape: List[int], kind: int) -> None:
    """Scales finite and > 0, one zero point per scale, per-channel counts matching the
    quantized dimension, zero points inside the type's range."""
    if q is None:
        return
    scales, zeros = q.floats(2), q.longs(3)
    if not scales and not zeros:
        return
    if len(zeros) not in (0, len(scales)):
        r.fail(f"{len(scales)} scales but {len(zeros)} zero points")
    if any(not (s > 0 and s < float("inf")) for s in scales):
        r.fail("a quantization scale that is not a positive number")
    axis = q.scalar(6, "<i")
    if len(scales) > 1 and not (0 <= axis < len(shape) and shape[axis] == len(scales)):
        r.fail(f"{len(scales)} per-channel scales on axis {axis} of a {shape} tensor")
    low, high = {3: (0, 255), 9: (-128, 127), 7: (-32768, 32767)}.get(kind, (-(1 << 31), (1 << 31) - 1))
    if any(not low <= z <= high for z in zeros):
        r.fail("a zero point outside its type's range")
