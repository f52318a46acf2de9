"""Synthetic GGUF models: the requested shape, read back with the gguf package's own reader."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from venvsel.bench import synth

gguf = pytest.importorskip("gguf")  # the 'bench' extra; part of the test extras too


@pytest.mark.parametrize("quant, qname, ftype", [("q4_0", "Q4_0", 2), ("q8_0", "Q8_0", 7)])
def test_tiny_model_has_the_requested_shape(quant: str, qname: str, ftype: int) -> None:
    m = synth.ensure_model("tiny", quant, progress=False)
    s = synth.SHAPES["tiny"]
    assert m.created and m.path.is_file()
    assert m.path.parent == Path(os.environ["VENVSEL_CACHE_DIR"]) / "models"
    assert m.size_bytes < 8 * 1024 * 1024  # "a few MB"
    got = synth.read_shape(m.path)
    assert got["architecture"] == "llama"
    assert got["block_count"] == s.n_layer
    assert got["embedding_length"] == s.n_embd
    assert got["feed_forward_length"] == s.n_ff
    assert got["attention.head_count"] == s.n_head
    assert got["attention.head_count_kv"] == s.n_head_kv
    assert got["rope.dimension_count"] == s.head_dim
    assert got["n_vocab"] == s.n_vocab
    assert got["tokenizer"] == "llama"
    assert got["file_type"] == ftype
    t = got["tensors"]
    # GGUF stores ggml order (ne0 first): the reverse of the numpy shapes in ANCHORS.md.
    assert t["token_embd.weight"] == ((s.n_embd, s.n_vocab), qname)
    assert t["output.weight"] == ((s.n_embd, s.n_vocab), qname)
    assert t["output_norm.weight"] == ((s.n_embd,), "F32")
    for i in range(s.n_layer):
        assert t[f"blk.{i}.attn_q.weight"] == ((s.n_embd, s.n_embd), qname)
        assert t[f"blk.{i}.attn_k.weight"] == ((s.n_embd, s.n_embd_kv), qname)
        assert t[f"blk.{i}.attn_v.weight"] == ((s.n_embd, s.n_embd_kv), qname)
        assert t[f"blk.{i}.attn_output.weight"] == ((s.n_embd, s.n_embd), qname)
        assert t[f"blk.{i}.ffn_gate.weight"] == ((s.n_embd, s.n_ff), qname)
        assert t[f"blk.{i}.ffn_up.weight"] == ((s.n_embd, s.n_ff), qname)
        assert t[f"blk.{i}.ffn_down.weight"] == ((s.n_ff, s.n_embd), qname)
        assert t[f"blk.{i}.attn_norm.weight"] == ((s.n_embd,), "F32")
    assert len(t) == 9 * s.n_layer + 3
    n_elements = sum(a * (b[0] if b else 1) for (a, *b), _ in t.values())
    assert n_elements == s.n_params


def test_cached_by_shape_quant_and_generator_version() -> None:
    first = synth.ensure_model("tiny", "q4_0", progress=False)
    mtime = first.path.stat().st_mtime_ns
    again = synth.ensure_model("tiny", "Q4_0", progress=False)
    assert not again.created and again.path == first.path
    assert again.path.stat().st_mtime_ns == mtime
    other = synth.ensure_model("tiny", "q8_0", progress=False)
    assert other.path != first.path
    assert synth.model_key(synth.SHAPES["tiny"], "q4_0") in first.path.name
    # Written through a temp file and a rename: nothing half-written is left behind.
    leftovers = [p.name for p in first.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_tokenizer_pieces_are_unique_and_complete() -> None:
    for size in ("tiny", "3b"):
        n = synth.SHAPES[size].n_vocab
        pieces = [p for p, _, _ in synth._vocab_pieces(n)]
        assert len(pieces) == n
        assert len(set(pieces)) == n
        assert pieces[:3] == ["<unk>", "<s>", "</s>"]
        assert pieces[3] == "<0x00>" and pieces[3 + 255] == "<0xFF>"  # every byte has a token


def test_3b_shape_is_the_one_measured_on_the_h200() -> None:
    s = synth.SHAPES["3b"]
    assert (s.n_layer, s.n_embd, s.n_ff, s.n_head, s.n_head_kv, s.n_vocab) == (
        36, 2560, 9728, 32, 8, 32000)
    assert s.n_params == pytest.approx(3.45e9, rel=0.01)
    # ANCHORS.md: Q4_0 1.94 GB, Q8_0 3.66 GB (18 and 34 bytes per block of 32).
    assert s.n_params * 18 / 32 == pytest.approx(1.94e9, rel=0.01)
    assert s.n_params * 34 / 32 == pytest.approx(3.66e9, rel=0.01)


def test_bad_size_or_quant_is_a_usage_error() -> None:
    from venvsel import errors

    with pytest.raises(errors.UsageError, match="unknown synthetic size"):
        synth.ensure_model("huge", "q4_0", progress=False)
    with pytest.raises(errors.UsageError, match="unknown quantisation"):
        synth.ensure_model("tiny", "q5_k", progress=False)


# --------------------------------------------------------------------------- own writer


def _write_with_gguf_library(path: Path, shape: synth.Shape, quant: str) -> None:
    """The same model through the gguf package's GGUFWriter (what venvsel used before its
    own writer): the reference the stdlib writer must match up to the tensor data."""
    np = pytest.importorskip("numpy")
    qtype = {"q4_0": gguf.GGMLQuantizationType.Q4_0, "q8_0": gguf.GGMLQuantizationType.Q8_0}[quant]
    ftype = {"q4_0": gguf.LlamaFileType.MOSTLY_Q4_0, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[quant]
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(f"venvsel synthetic {shape.name} {quant}")
    w.add_description("Random weights for speed measurements (venvsel bench); "
                      "not a language model.")
    w.add_context_length(shape.n_ctx_train)
    w.add_embedding_length(shape.n_embd)
    w.add_block_count(shape.n_layer)
    w.add_feed_forward_length(shape.n_ff)
    w.add_head_count(shape.n_head)
    w.add_head_count_kv(shape.n_head_kv)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(shape.head_dim)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(ftype.value)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    pieces = list(synth._vocab_pieces(shape.n_vocab))
    w.add_tokenizer_model("llama")
    w.add_token_list([p for p, _, _ in pieces])
    w.add_token_scores([s for _, s, _ in pieces])
    w.add_token_types([t for _, _, t in pieces])
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    rng = np.random.default_rng(0)
    data = {}
    plan = synth._tensor_plan(shape)
    for _name, kind, np_shape in plan:
        if kind not in data:
            if kind == "norm":
                data[kind] = np.ones(np_shape, dtype=np.float32)
            else:
                arr = rng.standard_normal(np_shape, dtype=np.float32) * np.float32(0.02)
                data[kind] = gguf.quants.quantize(arr, qtype)
    for name, kind, np_shape in plan:
        arr = data[kind]
        raw = None if kind == "norm" else qtype
        w.add_tensor_info(name, np_shape if raw is None else arr.shape, arr.dtype, arr.nbytes,
                          raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for _name, kind, _ in plan:
        w.write_tensor_data(data[kind])
    w.close()


@pytest.mark.parametrize("quant", ["q4_0", "q8_0"])
def test_own_writer_matches_the_gguf_library_up_to_the_data(tmp_path: Path, quant: str) -> None:
    shape = synth.SHAPES["tiny"]
    ours, ref = tmp_path / "ours.gguf", tmp_path / "ref.gguf"
    synth.write_model(ours, shape, quant)
    _write_with_gguf_library(ref, shape, quant)
    head = synth.model_file(shape, quant).head()
    a, b = ours.read_bytes(), ref.read_bytes()
    assert a[:len(head)] == b[:len(head)] == head  # header, key/values, tensor infos, padding
    assert len(a) == len(b)  # the same data layout; only the random values differ
    # And the gguf package reads ours back with the right types and sizes.
    r = gguf.GGUFReader(str(ours))
    assert len(r.tensors) == 9 * shape.n_layer + 3
    want = {t.name: t.nbytes for t in synth.model_file(shape, quant).tensors}
    assert {t.name: int(t.n_bytes) for t in r.tensors} == want
    emb = next(t for t in r.tensors if t.name == "token_embd.weight")
    deq = gguf.quants.dequantize(emb.data, emb.tensor_type)
    assert abs(float(deq.std()) - 1.0) < 0.1  # the spread asked for: finite, sane values


def test_synthetic_models_need_neither_gguf_nor_numpy(tmp_path: Path) -> None:
    """After a plain install (no bench extra) the writer must still work: run it in a child
    interpreter where importing gguf or numpy fails."""
    import subprocess
    import sys

    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def no(name, *a, **k):\n"
        "    if name.split('.')[0] in ('gguf', 'numpy'):\n"
        "        raise ImportError('blocked: ' + name, name=name)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = no\n"
        "from pathlib import Path\n"
        "from venvsel.bench import synth\n"
        f"m = synth.ensure_model('tiny', 'q8_0', progress=False, cache=Path({str(tmp_path)!r}))\n"
        "print(m.path, m.size_bytes)\n"
        "assert 'gguf' not in sys.modules and 'numpy' not in sys.modules\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.split()[0])
    assert path.is_file() and path.read_bytes()[:4] == b"GGUF"
