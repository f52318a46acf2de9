"""A minimal GGUF (version 3) writer using only the standard library.

Enough for venvsel's synthetic models, so that ``venvsel bench`` works after a plain
``pip install venvsel`` (no ``gguf``, no ``numpy``). The format, as llama.cpp's ``gguf.cpp``
reads it (all little-endian):

* header: magic ``GGUF``, version (u32), tensor count (u64), key/value count (u64);
* key/values: key (u64 length + UTF-8), value type (u32), value; arrays carry the element
  type (u32) and count (u64) first;
* tensor infos: name, n_dims (u32), dims in ggml order (ne0 first: the reverse of numpy's
  shape, u64 each), ggml type (u32), offset into the data section (u64, aligned);
* padding to ``general.alignment`` (32 by default), then each tensor's bytes, each padded
  to the alignment.

The tests compare what this writes with what the ``gguf`` package's ``GGUFWriter`` writes
for the same model: byte for byte up to the tensor data.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Union

MAGIC = b"GGUF"
VERSION = 3
ALIGNMENT = 32

# gguf value types
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, \
    FLOAT64 = range(13)
_SCALAR = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
           FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}

# ggml tensor types and their blocks (elements per block, bytes per block)
F32, F16, Q4_0, Q8_0 = 0, 1, 2, 8
BLOCK = {F32: (1, 4), F16: (1, 2), Q4_0: (32, 18), Q8_0: (32, 34)}

Scalar = Union[int, float, bool, str]
Value = Union[Scalar, Sequence[Scalar]]


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # numpy order (rows, columns): written reversed
    ggml_type: int

    @property
    def nbytes(self) -> int:
        per, size = BLOCK[self.ggml_type]
        n = 1
        for d in self.shape:
            n *= d
        if n % per:
            raise ValueError(f"{self.name}: {n} elements is not a whole number of blocks")
        return n // per * size


def _pad(n: int, align: int = ALIGNMENT) -> int:
    return (align - n % align) % align


def _string(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _scalar(vtype: int, value: Scalar) -> bytes:
    if vtype == STRING:
        assert isinstance(value, str)
        return _string(value)
    return struct.pack(_SCALAR[vtype], value)


def encode_kv(key: str, vtype: int, value: Value, elem_type: int | None = None) -> bytes:
    out = _string(key) + struct.pack("<I", vtype)
    if vtype == ARRAY:
        assert elem_type is not None and not isinstance(value, (str, bytes))
        items = list(value)  # type: ignore[arg-type]
        out += struct.pack("<IQ", elem_type, len(items))
        if elem_type == STRING:
            return out + b"".join(_string(str(x)) for x in items)
        return out + struct.pack(f"<{len(items)}{_SCALAR[elem_type][1]}", *items)
    if isinstance(value, (list, tuple)):
        raise TypeError(f"{key}: a list needs the ARRAY type")
    return out + _scalar(vtype, value)  # type: ignore[arg-type]


class GGUFFile:
    """Collects key/values and tensor infos, then writes header, infos and data in order."""

    def __init__(self) -> None:
        self.kv: list[bytes] = []
        self.tensors: list[TensorInfo] = []

    def add(self, key: str, vtype: int, value: Value, elem_type: int | None = None) -> None:
        self.kv.append(encode_kv(key, vtype, value, elem_type))

    def add_tensor(self, name: str, shape: Sequence[int], ggml_type: int) -> None:
        self.tensors.append(TensorInfo(name, tuple(shape), ggml_type))

    def head(self) -> bytes:
        """Everything before the first tensor's data, padding included."""
        out = bytearray(MAGIC + struct.pack("<IQQ", VERSION, len(self.tensors), len(self.kv)))
        for kv in self.kv:
            out += kv
        offset = 0
        for t in self.tensors:
            dims = tuple(reversed(t.shape))
            out += _string(t.name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims,
                                                 t.ggml_type, offset)
            offset += t.nbytes + _pad(t.nbytes)
        out += b"\0" * _pad(len(out))
        return bytes(out)

    def write(self, f: BinaryIO, data: Iterable[bytes]) -> None:
        """Write the file; ``data`` yields each tensor's bytes, in the order of the infos."""
        f.write(self.head())
        n = 0
        for t, blob in zip(self.tensors, data):
            if len(blob) != t.nbytes:
                raise ValueError(f"{t.name}: {len(blob)} bytes of data, expected {t.nbytes}")
            f.write(blob)
            f.write(b"\0" * _pad(len(blob)))
            n += 1
        if n != len(self.tensors):
            raise ValueError(f"data for {n} of {len(self.tensors)} tensors")


# --------------------------------------------------------------------------- random blocks


def random_blocks(ggml_type: int, n_elements: int, std: float, rng: object) -> bytes:
    """Quantised blocks that decode to values of about ``std`` spread: random quants, one
    fixed fp16 scale per block. Speed does not depend on the values; this only keeps them
    finite and of a sane size (what a random normal matrix quantised would give)."""

    assert isinstance(rng, random.Random)
    per, size = BLOCK[ggml_type]
    n_blocks = n_elements // per
    buf = bytearray(rng.randbytes(n_blocks * size))
    if ggml_type == Q8_0:
        scale = std / 73.9  # int8 uniform on [-128, 127] has a spread of 73.9
    elif ggml_type == Q4_0:
        scale = std / 4.61  # nibble - 8 uniform on [-8, 7]: 4.61
    else:
        raise ValueError(f"random_blocks: ggml type {ggml_type} is not quantised")
    lo, hi = struct.pack("<e", scale)
    buf[0::size] = bytes([lo]) * n_blocks
    buf[1::size] = bytes([hi]) * n_blocks
    return bytes(buf)


def f32_constant(n_elements: int, value: float) -> bytes:
    return struct.pack("<f", value) * n_elements
