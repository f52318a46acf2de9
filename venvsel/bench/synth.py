"""Synthetic llama-architecture GGUF models: random weights, real shapes, no download.

Speed in llama.cpp depends on the shapes and the quantisation, not on the values, so a
model with random weights measures the same pp/tg as a trained one of the same shape.
Each tensor kind is quantised once and the same bytes are written for every layer, which
keeps a 3.45 B-parameter model to one layer's worth of work and memory.

Files are cached in ``paths.cache_dir()/models`` under a name that carries the shape, the
quantisation and the generator version, written to a temp file and renamed, under a file lock.

Written with the standard library (``gguf_write``): ``venvsel bench`` works after a plain
install. Reading a file back (:func:`read_shape`, for tests) uses the ``gguf`` package.
The env being benchmarked needs only llama_cpp.
"""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from .. import errors, fsutil, paths, render
from ..owners import state_dir_ok
from . import gguf_write as g

# Bump when the generator changes what it writes (tokens, keys, value distribution).
GENERATOR_VERSION = 2  # 2: written by venvsel's own GGUF writer (gguf_write)

QUANTS = ("q4_0", "q8_0")


@dataclass(frozen=True)
class Shape:
    """A llama model's hyper-parameters (the part of a model that decides its speed)."""

    name: str
    n_layer: int
    n_embd: int
    n_ff: int
    n_head: int
    n_head_kv: int
    n_vocab: int
    n_ctx_train: int = 4096

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def n_embd_kv(self) -> int:
        return self.head_dim * self.n_head_kv

    @property
    def n_params(self) -> int:
        """Parameters as llama.cpp counts them (every tensor's element count)."""
        e, f, kv, v = self.n_embd, self.n_ff, self.n_embd_kv, self.n_vocab
        per_layer = 2 * e + 2 * e * e + 2 * kv * e + 3 * f * e
        return self.n_layer * per_layer + 2 * v * e + e


SHAPES: dict[str, Shape] = {
    # A few MB: loads and runs in seconds on a 2-core CI machine.
    "tiny": Shape("tiny", n_layer=4, n_embd=256, n_ff=768, n_head=4, n_head_kv=2, n_vocab=4096),
    "small": Shape("small", n_layer=8, n_embd=768, n_ff=2048, n_head=12, n_head_kv=4,
                   n_vocab=32000),
    "1b": Shape("1b", n_layer=16, n_embd=2048, n_ff=8192, n_head=32, n_head_kv=8, n_vocab=32000),
    # The shape measured on the H200 (ANCHORS.md): 3.45 B parameters.
    "3b": Shape("3b", n_layer=36, n_embd=2560, n_ff=9728, n_head=32, n_head_kv=8, n_vocab=32000),
}


@dataclass(frozen=True)
class SyntheticModel:
    path: Path
    shape: Shape
    quant: str
    size_bytes: int
    created: bool  # False when it came from the cache

    @property
    def label(self) -> str:
        return f"synthetic-{self.shape.name}"


def _require_gguf() -> tuple[Any, Any]:
    """The ``gguf`` and ``numpy`` packages, for :func:`read_shape` only (the writer needs
    neither)."""
    try:
        import gguf  # optional (the bench extra), heavy
        import numpy as np  # optional (the bench extra), heavy
    except ImportError as exc:
        raise errors.UsageError(
            f"reading a GGUF file back needs the 'gguf' and 'numpy' packages ({exc.name} is "
            "missing).",
            hint="Install the bench extra: python -m pip install 'venvsel[bench]'.",
        ) from exc
    return gguf, np


def model_key(shape: Shape, quant: str) -> str:
    blob = repr((asdict(shape), quant, GENERATOR_VERSION)).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def model_path(shape: Shape, quant: str) -> Path:
    """Where the generated model is kept: the cache dir, unless that dir is someone else's
    or writable by others (trust.py): then a private temporary dir, never the shared file."""

    name = f"synthetic-{shape.name}-{quant}-{model_key(shape, quant)}.gguf"
    base = paths.cache_dir()
    if not all(state_dir_ok(d, "cache") for d in (base, base / "models")):
        global _private_models
        if _private_models is None:
            _private_models = Path(tempfile.mkdtemp(prefix="venvsel-models-"))
        return _private_models / name
    return base / "models" / name


_private_models: Path | None = None


# --------------------------------------------------------------------------- tokenizer

# Letters by English frequency (with the SPM word-start mark first): multi-letter pieces
# are built from these so that real text tokenises into plausible 2-4 character pieces.
_SPACE = "\u2581"
_LETTERS = _SPACE + "etaoinshrdlcumwfgypbvkjxqz"


def _vocab_pieces(n_vocab: int) -> Iterator[tuple[str, float, int]]:
    """(piece, score, token type) for an SPM ("llama") vocabulary of exactly ``n_vocab``.

    Layout: <unk> <s> </s>, the 256 byte tokens <0x00>..<0xFF> (so any text can be
    tokenised), printable ASCII, then letter pairs, triples and quads. Longer pieces score
    higher so the SPM merge prefers them. Every piece is unique.
    """
    normal, unknown, control, byte = 1, 2, 3, 6
    yield "<unk>", 0.0, unknown
    yield "<s>", 0.0, control
    yield "</s>", 0.0, control
    for b in range(256):
        yield f"<0x{b:02X}>", 0.0, byte
    count = 3 + 256
    seen: set[str] = set()

    def candidates() -> Iterator[str]:
        yield _SPACE
        for c in range(0x21, 0x7F):
            yield chr(c)
        for length in (2, 3, 4):
            yield from _combos(_LETTERS, length)

    for i, piece in enumerate(candidates()):
        if count >= n_vocab:
            return
        if piece in seen:
            continue
        seen.add(piece)
        # Longer first; among equals, earlier (more frequent letters) first.
        yield piece, float(len(piece)) - i * 1e-7, normal
        count += 1
    raise ValueError(f"cannot build {n_vocab} unique tokens")  # pragma: no cover


def _combos(alphabet: str, length: int) -> Iterator[str]:
    """Strings of ``length`` over ``alphabet``, frequent letters first; the word-start mark
    (``alphabet[0]``) only leads, as in a real SPM vocabulary."""
    letters = alphabet[1:]

    def tails(n: int) -> Iterator[str]:
        if n == 0:
            yield ""
            return
        for c in letters:
            for rest in tails(n - 1):
                yield c + rest

    for head in alphabet:
        for tail in tails(length - 1):
            yield head + tail


# --------------------------------------------------------------------------- writer


def _tensor_plan(shape: Shape) -> list[tuple[str, str, tuple[int, ...]]]:
    """(gguf name, kind, numpy shape) in file order; ``kind`` picks the reused data."""
    e, f, kv, v = shape.n_embd, shape.n_ff, shape.n_embd_kv, shape.n_vocab
    plan: list[tuple[str, str, tuple[int, ...]]] = [("token_embd.weight", "embd", (v, e))]
    for i in range(shape.n_layer):
        p = f"blk.{i}."
        plan += [
            (p + "attn_norm.weight", "norm", (e,)),
            (p + "attn_q.weight", "q", (e, e)),
            (p + "attn_k.weight", "kv", (kv, e)),
            (p + "attn_v.weight", "kv", (kv, e)),
            (p + "attn_output.weight", "q", (e, e)),
            (p + "ffn_norm.weight", "norm", (e,)),
            (p + "ffn_gate.weight", "up", (f, e)),
            (p + "ffn_up.weight", "up", (f, e)),
            (p + "ffn_down.weight", "down", (e, f)),
        ]
    plan += [("output_norm.weight", "norm", (e,)), ("output.weight", "embd", (v, e))]
    return plan


LLAMA_FTYPE = {"q4_0": 2, "q8_0": 7}  # llama_ftype: MOSTLY_Q4_0, MOSTLY_Q8_0
GGML_QUANT_VERSION = 2


def model_file(shape: Shape, quant: str) -> Any:
    """The GGUF layout of a synthetic model: key/values and tensor infos, no data yet."""

    qtype = {"q4_0": g.Q4_0, "q8_0": g.Q8_0}[quant]
    arch = "llama"
    f = g.GGUFFile()
    f.add("general.architecture", g.STRING, arch)
    f.add("general.name", g.STRING, f"venvsel synthetic {shape.name} {quant}")
    f.add("general.description", g.STRING, "Random weights for speed measurements (venvsel "
          "bench); not a language model.")
    f.add(f"{arch}.context_length", g.UINT32, shape.n_ctx_train)
    f.add(f"{arch}.embedding_length", g.UINT32, shape.n_embd)
    f.add(f"{arch}.block_count", g.UINT32, shape.n_layer)
    f.add(f"{arch}.feed_forward_length", g.UINT32, shape.n_ff)
    f.add(f"{arch}.attention.head_count", g.UINT32, shape.n_head)
    f.add(f"{arch}.attention.head_count_kv", g.UINT32, shape.n_head_kv)
    f.add(f"{arch}.attention.layer_norm_rms_epsilon", g.FLOAT32, 1e-5)
    f.add(f"{arch}.rope.dimension_count", g.UINT32, shape.head_dim)
    f.add(f"{arch}.rope.freq_base", g.FLOAT32, 10000.0)
    f.add("general.file_type", g.UINT32, LLAMA_FTYPE[quant])
    f.add("general.quantization_version", g.UINT32, GGML_QUANT_VERSION)
    pieces = list(_vocab_pieces(shape.n_vocab))
    f.add("tokenizer.ggml.model", g.STRING, "llama")
    f.add("tokenizer.ggml.tokens", g.ARRAY, [p for p, _, _ in pieces], g.STRING)
    f.add("tokenizer.ggml.scores", g.ARRAY, [s for _, s, _ in pieces], g.FLOAT32)
    f.add("tokenizer.ggml.token_type", g.ARRAY, [t for _, _, t in pieces], g.INT32)
    f.add("tokenizer.ggml.unknown_token_id", g.UINT32, 0)
    f.add("tokenizer.ggml.bos_token_id", g.UINT32, 1)
    f.add("tokenizer.ggml.eos_token_id", g.UINT32, 2)
    f.add("tokenizer.ggml.add_bos_token", g.BOOL, True)
    f.add("tokenizer.ggml.add_eos_token", g.BOOL, False)
    for name, kind, np_shape in _tensor_plan(shape):
        f.add_tensor(name, np_shape, g.F32 if kind == "norm" else qtype)
    return f


def write_model(
    path: Path, shape: Shape, quant: str, *, seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Write a synthetic llama GGUF to ``path`` (not atomic: callers write to a temp name).

    Standard library only. One block of random quantised data per tensor kind, reused for
    every layer; norms are ones.
    """

    f = model_file(shape, quant)
    rng = random.Random(seed)
    data: dict[str, bytes] = {}
    plan = _tensor_plan(shape)
    for _name, kind, np_shape in plan:
        if kind in data:
            continue
        n = 1
        for d in np_shape:
            n *= d
        if kind == "norm":
            data[kind] = g.f32_constant(n, 1.0)
        else:
            qtype = {"q4_0": g.Q4_0, "q8_0": g.Q8_0}[quant]
            data[kind] = g.random_blocks(qtype, n, 1.0 if kind == "embd" else 0.02, rng)

    def blobs() -> Iterator[bytes]:
        for name, kind, _ in plan:
            yield data[kind]
            if progress is not None:
                progress(name)

    with open(path, "wb") as out:
        f.write(out, blobs())


def ensure_model(
    size: str, quant: str, *, progress: bool = True, cache: Path | None = None,
) -> SyntheticModel:
    """The cached synthetic model of ``size`` and ``quant``, generated on first use."""
    if size not in SHAPES:
        raise errors.UsageError(
            f"unknown synthetic size {size!r}; choose one of: {', '.join(SHAPES)}.")
    quant = quant.lower()
    if quant not in QUANTS:
        raise errors.UsageError(
            f"unknown quantisation {quant!r}; choose from: {', '.join(QUANTS)}.")
    shape = SHAPES[size]
    path = model_path(shape, quant)
    if cache is not None:
        path = cache / path.name
    if path.is_file():
        return SyntheticModel(path, shape, quant, path.stat().st_size, created=False)

    # third-party, slow to import (filelock 4 imports asyncio): only when a model is written
    from filelock import FileLock

    fsutil.ensure_cache_dir(path.parent)
    with FileLock(str(path) + ".lock", timeout=3600):
        if path.is_file():  # another process wrote it while we waited
            return SyntheticModel(path, shape, quant, path.stat().st_size, created=False)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            n = len(_tensor_plan(shape))
            with render.Progress(f"writing {path.name}", total=n, enabled=progress) as bar:
                write_model(Path(tmp), shape, quant, progress=lambda name: bar.advance(name))
            # mkstemp makes the file private (0600); a model is ordinary data: umask decides.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return SyntheticModel(path, shape, quant, path.stat().st_size, created=True)


def read_shape(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Hyper-parameters and tensor shapes of a GGUF file, read back with ``gguf.GGUFReader``."""
    gguf, _np = _require_gguf()
    reader = gguf.GGUFReader(str(path))

    def scalar(key: str) -> Any:
        field = reader.fields.get(key)
        if field is None:
            return None
        return field.contents()

    arch = scalar("general.architecture")
    out: dict[str, Any] = {"architecture": arch}
    for k in ("block_count", "embedding_length", "feed_forward_length", "context_length",
              "attention.head_count", "attention.head_count_kv", "rope.dimension_count"):
        out[k] = scalar(f"{arch}.{k}")
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    out["n_vocab"] = len(tokens.data) if tokens is not None else None
    out["tokenizer"] = scalar("tokenizer.ggml.model")
    out["file_type"] = scalar("general.file_type")
    out["tensors"] = {
        t.name: (tuple(int(x) for x in t.shape), t.tensor_type.name) for t in reader.tensors
    }
    return out
