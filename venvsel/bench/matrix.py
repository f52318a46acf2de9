"""llama-bench's settings and the test matrix it forms from them.

Every setting takes a comma-separated list, as in llama-bench; the runs are the product of
the lists in llama-bench's own loop order (``get_cmd_params_instances`` in
``tools/llama-bench/llama-bench.cpp``): model, n_gpu_layers, n_batch, n_ubatch, type_k,
type_v, flash_attn, n_threads — and inside each such cell the tests: every ``-p`` value
(a prompt-only test, "pp512"), every ``-n`` value (generation only, "tg128"), every ``-pg``
pair (prompt then generation, timed together, "pp512+tg128"). A value of 0 in ``-p``/``-n``
makes no test, as there.

A setting left out is ``None``: the worker then passes nothing and ``llama_cpp.Llama()``
in that env applies its own default — the numbers describe what the user's program gets —
and reports the value it used.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .. import errors

# KV cache types llama-bench accepts (ggml_type names) and their ggml_type numbers.
CACHE_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8,
               "iq4_nl": 20, "bf16": 30}
# flash attention: llama-bench's words (common_arg_utils is_truthy/is_falsey/is_autoy).
FA_WORDS = {"1": "1", "on": "1", "enabled": "1", "true": "1",
            "0": "0", "off": "0", "disabled": "0", "false": "0",
            "auto": "auto", "-1": "auto"}
FA_NUMBER = {"0": 0, "1": 1, "auto": -1}  # llama_flash_attn_type, as llama-bench writes it


@dataclass(frozen=True)
class Test:
    n_prompt: int
    n_gen: int

    @property
    def name(self) -> str:
        """llama-bench's ``test`` column: pp512, tg128, pp512+tg128."""
        if self.n_prompt and self.n_gen:
            return f"pp{self.n_prompt}+tg{self.n_gen}"
        return f"pp{self.n_prompt}" if self.n_prompt else f"tg{self.n_gen}"

    @property
    def n_tokens(self) -> int:
        return self.n_prompt + self.n_gen


@dataclass(frozen=True)
class Cell:
    """One combination of the context settings; None = what Llama() would use."""

    n_batch: int | None = None
    n_ubatch: int | None = None
    type_k: str | None = None
    type_v: str | None = None
    flash_attn: str | None = None  # "0" | "1" | "auto"
    threads: int | None = None

    def label(self, varying: Sequence[str]) -> str:
        return " ".join(f"{k}={getattr(self, k)}" for k in varying)


CELL_FIELDS = ("n_batch", "n_ubatch", "type_k", "type_v", "flash_attn", "threads")


@dataclass(frozen=True)
class Matrix:
    """The lists as given (``None`` alone: not given)."""

    n_prompt: tuple[int, ...] = (512,)
    n_gen: tuple[int, ...] = (128,)
    n_pg: tuple[tuple[int, int], ...] = ()
    n_batch: tuple[int | None, ...] = (None,)
    n_ubatch: tuple[int | None, ...] = (None,)
    type_k: tuple[str | None, ...] = (None,)
    type_v: tuple[str | None, ...] = (None,)
    flash_attn: tuple[str | None, ...] = (None,)
    threads: tuple[int | None, ...] = (None,)

    def tests(self) -> tuple[Test, ...]:
        out = [Test(p, 0) for p in self.n_prompt if p > 0]
        out += [Test(0, g) for g in self.n_gen if g > 0]
        out += [Test(p, g) for p, g in self.n_pg if p > 0 or g > 0]
        return tuple(out)

    def cells(self) -> Iterator[Cell]:
        for nb, nub, tk, tv, fa, nt in itertools.product(
                self.n_batch, self.n_ubatch, self.type_k, self.type_v, self.flash_attn,
                self.threads):
            yield Cell(nb, nub, tk, tv, fa, nt)

    def varying(self) -> tuple[str, ...]:
        """The cell settings with more than one value (shown as table columns)."""
        return tuple(f for f in CELL_FIELDS if len(getattr(self, f)) > 1)

    @property
    def max_tokens(self) -> int:
        return max((t.n_tokens for t in self.tests()), default=0)


# --------------------------------------------------------------------------- parsing


def _items(text: str, what: str) -> list[str]:
    items = [x.strip() for x in text.split(",")]
    if not text.strip() or any(not x for x in items):
        raise errors.UsageError(f"{what}: {text!r} is not a comma-separated list.")
    return items


def int_list(text: str | None, what: str, *, minimum: int = 0,
             default: tuple[int | None, ...] = (None,)) -> tuple[int | None, ...]:
    """"512,1024" -> (512, 1024); None (option not given) -> ``default``."""
    if text is None:
        return default
    out: list[int | None] = []
    for x in _items(text, what):
        try:
            n = int(x)
        except ValueError:
            raise errors.UsageError(f"{what}: {x!r} is not a whole number.") from None
        if n < minimum:
            raise errors.UsageError(f"{what}: {n} is below {minimum}.")
        out.append(n)
    return tuple(dict.fromkeys(out))


def counts(text: str | None, what: str, default: int) -> tuple[int, ...]:
    got = int_list(text, what, minimum=0, default=(default,))
    return tuple(int(x) for x in got if x is not None)


def pg_pairs(values: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """``-pg 512,128`` (repeatable) -> ((512, 128),)."""
    out = []
    for v in values:
        parts = _items(v, "-pg")
        if len(parts) != 2:
            raise errors.UsageError(f"-pg takes two numbers, prompt and generation: {v!r}.")
        try:
            p, g = int(parts[0]), int(parts[1])
        except ValueError:
            raise errors.UsageError(f"-pg: {v!r} is not two whole numbers.") from None
        if p < 0 or g < 0:
            raise errors.UsageError(f"-pg: {v!r} has a negative number.")
        out.append((p, g))
    return tuple(dict.fromkeys(out))


def fa_list(text: str | None) -> tuple[str | None, ...]:
    if text is None:
        return (None,)
    out = []
    for x in _items(text, "--flash-attn"):
        word = FA_WORDS.get(x.lower())
        if word is None:
            raise errors.UsageError(f"--flash-attn: {x!r}; use 0, 1 or auto (on/off too).")
        out.append(word)
    return tuple(dict.fromkeys(out))


def cache_type_list(text: str | None, what: str) -> tuple[str | None, ...]:
    if text is None:
        return (None,)
    out = []
    for x in _items(text, what):
        if x.lower() not in CACHE_TYPES:
            raise errors.UsageError(f"{what}: unknown cache type {x!r}; choose from: "
                                    f"{', '.join(CACHE_TYPES)}.")
        out.append(x.lower())
    return tuple(dict.fromkeys(out))
