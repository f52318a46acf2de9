#!/usr/bin/env bash
# Fill DEST (default .gpu, git-ignored) with what scripts/gpu-repair.sh needs on the GPU
# machine, which has no package registry; it travels with `carry: [".gpu"]` (64 MiB a call).
#
#   scripts/prepare-gpu-repair.sh [DEST]
#
# Needs: scripts/prepare-gpu.sh's output in .gpu/ (the trimmed sdist and venvsel's wheels);
# LLAMA_CPU_WHEEL, a CPU-only llama_cpp_python wheel built from the same sdist (the seed's
# .venv); LB_BUILD, a llama.cpp build dir holding llama-bench and its two own shared libraries
# (cmake -DBUILD_SHARED_LIBS=ON -DGGML_CUDA=OFF ... --target llama-bench): at run time it
# takes libllama/libggml from the repaired env; CODE16 optionally, a worktree whose committed
# branch is measured too (the warm-path issue); CODE17 optionally, the bench-parity worktree.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
DEST=${1:-.gpu}
mkdir -p "$DEST"/{wheels,links,src,cpuwheel,lb}
[ "$(realpath "$DEST")" = "$(realpath .gpu)" ] || {
  cp .gpu/wheels/*.whl "$DEST/wheels/"
  cp .gpu/src/*-trimmed.tar.gz "$DEST/src/"
}
# the PEP 517 backend an isolated offline build of llama-cpp-python needs
python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version 3.12 --implementation cp --platform any -d "$DEST/links" \
  scikit-build-core pathspec packaging
cp "${LLAMA_CPU_WHEEL:?a CPU-only llama_cpp_python wheel}" "$DEST/cpuwheel/"
LB=${LB_BUILD:?a llama.cpp build dir with bin/llama-bench}
cp -P "$LB"/bin/llama-bench "$LB"/bin/libllama-common.so* "$LB"/bin/libllama-bench-impl.so* \
  "$DEST/lb/" 2>/dev/null || cp -P "$LB"/bin/llama-bench "$LB"/bin/libllama-common* "$DEST/lb/"
strip --strip-unneeded "$DEST"/lb/llama-bench "$DEST"/lb/*.so.* 2>/dev/null || true
rm -rf "$DEST/code18" "$DEST/codemain" "$DEST/code16"
mkdir -p "$DEST/code18" "$DEST/codemain"
cp -r venvsel "$DEST/code18/"
git archive main venvsel | tar x -C "$DEST/codemain"
if [ -n "${CODE17:-}" ]; then  # the bench-parity branch: its benchmarks/bench_vs_llama_bench.py
  rm -rf "$DEST/code17"; mkdir -p "$DEST/code17"
  git -C "$CODE17" archive HEAD venvsel benchmarks tests/__init__.py tests/envs.py | tar x -C "$DEST/code17"
fi
if [ -n "${CODE16:-}" ]; then
  mkdir -p "$DEST/code16"
  git -C "$CODE16" archive HEAD venvsel | tar x -C "$DEST/code16"
fi
find "$DEST" -name __pycache__ -prune -exec rm -rf {} +
cp scripts/gpu-repair.sh scripts/tree-hash.py benchmarks/gpu_llama_bench_min.py \
  benchmarks/warm_path_gpu.py "$DEST/"
du -sh "$DEST"; du -sh "$DEST"/*
