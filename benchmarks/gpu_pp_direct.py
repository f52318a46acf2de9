"""pp512 with a bare llama_cpp loop, exactly the call llama-bench makes, to compare with
`venvsel bench` on the GPU machine: default settings, flash attention, n_batch 2048.

    <env>/bin/python benchmarks/gpu_pp_direct.py MODEL.gguf   # in the env with the CUDA build

Prints tokens/s per rep as JSON (docs/gpu-validation.md quotes it).
"""

from __future__ import annotations

import json
import random
import sys
import time
from typing import Any

import llama_cpp

VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("default", {}),
    ("flash_attn", {"flash_attn": True}),
    ("ubatch2048", {"n_batch": 2048, "n_ubatch": 512}),
]


def main(model: str, reps: int = 12) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, extra in VARIANTS:
        kw = dict(extra)
        n_batch = kw.pop("n_batch", 512)
        try:
            llm = llama_cpp.Llama(model_path=model, n_gpu_layers=-1, n_ctx=2048,
                                  n_batch=n_batch, verbose=False, **kw)
        except TypeError as exc:  # an older llama-cpp-python without that option
            out[name] = f"TypeError {exc}"
            continue
        ctx = llm.ctx
        mem = llama_cpp.llama_get_memory(ctx)
        rng = random.Random(0)
        toks = [1] + [rng.randrange(llm.n_vocab()) for _ in range(511)]
        arr = (llama_cpp.llama_token * 512)(*toks)
        rates = []
        for _ in range(reps):
            llama_cpp.llama_memory_clear(mem, True)
            t = time.perf_counter()
            llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(arr, 512))
            llama_cpp.llama_synchronize(ctx)
            rates.append(round(512 / (time.perf_counter() - t)))
        out[name] = rates
        del llm
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
