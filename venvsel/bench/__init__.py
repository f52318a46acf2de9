"""venvsel bench: llama.cpp speed inside a chosen env, measured like llama-bench, with the
truth about where the layers went.

Modules: ``run`` (host runner: envs, plans, worker processes, verdicts), ``_worker`` (runs
inside the target env; stdlib + llama_cpp only), ``logparse`` (llama.cpp load log →
placement → GPU/PARTIAL/CPU/FALLBACK), ``synth`` (synthetic GGUF models, extra ``bench``),
``report`` (table, ratios, JSON, Markdown, PNG).
"""

from __future__ import annotations
