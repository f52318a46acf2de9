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


def test_cached_by_shape_quant_and_gguf_version() -> None:
    first = synth.ensure_model("tiny", "q4_0", progress=False)
    mtime = first.path.stat().st_mtime_ns
    again = synth.ensure_model("tiny", "Q4_0", progress=False)
    assert not again.created and again.path == first.path
    assert again.path.stat().st_mtime_ns == mtime
    other = synth.ensure_model("tiny", "q8_0", progress=False)
    assert other.path != first.path
    assert synth.gguf_version() != "unknown"
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
