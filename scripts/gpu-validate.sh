#!/usr/bin/env bash
# The seed's scenario, end to end, on a machine with an NVIDIA GPU and no package registry
# (the lent H200). Run scripts/prepare-gpu.sh here first; then, on the GPU machine, from the
# repository root, with .gpu carried along:
#
#     bash scripts/gpu-validate.sh [PHASE...]     # default: build envs check bench
#
# Phases are idempotent (a phase whose results exist is skipped), so a second call on the
# same machine continues where the first stopped. Every command's output and exit code land
# in $OUT (or .gpu/out), with the raw JSON, for docs/gpu-validation.md.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
OUT=${OUT:-$REPO/.gpu/out}
W=${VENVSEL_GPU_WORK:-/tmp/venvsel-gpu}   # build dir, envs, models: survives between calls
PY=${GPU_PYTHON:-python3}                  # the image's python, which holds CUDA torch
LLAMA_VERSION=${LLAMA_VERSION:-0.3.36}
JOBS=$(nproc)
mkdir -p "$OUT" "$W"
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
export PATH="/usr/local/cuda/bin:$W/bin:$PATH"
export VENVSEL_CACHE_DIR="$W/cache" VENVSEL_LOG_DIR="$W/log"
START=$(date +%s)
log() { printf '[%4ss] %s\n' "$(( $(date +%s) - START ))" "$*" | tee -a "$OUT/timeline.txt"; }

# One command as a user would type it: transcript with the exit code, in order.
n=0
cmd() {
  local name=$1; shift
  n=$((n + 1))
  local f; f=$(printf '%s/cmd-%02d-%s.txt' "$OUT" "$n" "$name")
  log "run $name: $*"
  { echo "\$ $*"; } > "$f"
  local t0; t0=$(date +%s%N)
  ( cd "$W/proj" && bash -c "$*" ) >> "$f" 2>&1
  local rc=$?
  printf '[exit %s, %s ms]\n' "$rc" "$(( ($(date +%s%N) - t0) / 1000000 ))" >> "$f"
  log "  -> exit $rc"
  return 0
}

machine_facts() {
  log "machine facts"
  {
    echo "== nvidia-smi"; nvidia-smi 2>&1
    echo "== nvidia-smi --query-gpu"
    nvidia-smi --query-gpu=index,name,driver_version,compute_cap,memory.total,uuid \
      --format=csv,noheader,nounits 2>&1
    echo "== /proc/driver/nvidia/version"; cat /proc/driver/nvidia/version 2>&1
    echo "== /sys/module/nvidia/version"; cat /sys/module/nvidia/version 2>&1
    echo "== nvcc"; nvcc --version 2>&1 | tail -2
    echo "== python"; "$PY" -c 'import sys, torch; print(sys.version); print(torch.__version__, torch.version.cuda, torch.cuda.get_arch_list())' 2>&1
    echo "== nproc"; nproc
  } > "$OUT/machine.txt"
  nvidia-smi --query-gpu=index,name,driver_version,compute_cap,memory.total,uuid \
    --format=csv,noheader,nounits > "$OUT/nvidia-smi-query.csv" 2>&1
  nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
  cat /proc/driver/nvidia/version > "$OUT/proc-driver-nvidia-version.txt" 2>&1
}

tool() {
  # venvsel itself: the image lacks a few pure-Python deps; they travel as wheels in .gpu/.
  [ -x "$W/bin/venvsel" ] && return 0
  log "install venvsel's missing deps"
  "$PY" -m pip install -q --no-deps --target "$W/site" "$REPO"/.gpu/wheels/*.whl
  mkdir -p "$W/bin"
  cat > "$W/bin/venvsel" <<EOF
#!$(command -v "$PY")
import sys
sys.path[:0] = ["$W/site", "$REPO"]
from venvsel.cli import entry
entry()
EOF
  chmod +x "$W/bin/venvsel"
}

build() {
  # CUDA (arch 90 = Hopper) and CPU-only builds of llama-cpp-python, side by side.
  if ls "$W"/wheels/cuda/*.whl >/dev/null 2>&1 && ls "$W"/wheels/cpu/*.whl >/dev/null 2>&1; then
    log "build: wheels already there"; return 0
  fi
  mkdir -p "$W/src-cuda" "$W/src-cpu" "$W/wheels/cuda" "$W/wheels/cpu"
  local tarball="$REPO/.gpu/src/llama_cpp_python-$LLAMA_VERSION-trimmed.tar.gz"
  tar xzf "$tarball" -C "$W/src-cuda"; tar xzf "$tarball" -C "$W/src-cpu"
  log "build: CUDA and CPU wheels in parallel ($JOBS cores)"
  ( CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90" \
    CMAKE_BUILD_PARALLEL_LEVEL=$((JOBS - 3)) \
    "$PY" -m pip wheel -q --no-build-isolation --no-deps \
      "$W/src-cuda/llama_cpp_python-$LLAMA_VERSION" -w "$W/wheels/cuda" \
      > "$OUT/build-cuda.log" 2>&1; echo "cuda build exit $?" >> "$OUT/timeline.txt" ) &
  ( CMAKE_ARGS="-DGGML_CUDA=off" CMAKE_BUILD_PARALLEL_LEVEL=3 \
    "$PY" -m pip wheel -q --no-build-isolation --no-deps \
      "$W/src-cpu/llama_cpp_python-$LLAMA_VERSION" -w "$W/wheels/cpu" \
      > "$OUT/build-cpu.log" 2>&1; echo "cpu build exit $?" >> "$OUT/timeline.txt" ) &
  wait
  ls -la "$W"/wheels/*/ >> "$OUT/timeline.txt"
  log "build: done"
}

envs() {
  # The seed's layout. The image python is itself a venv, so --system-site-packages would not
  # show its packages: a .pth file names what each env may see (ANCHORS.md).
  [ -f "$W/proj/.done" ] && { log "envs: already there"; return 0; }
  rm -rf "$W/proj"; mkdir -p "$W/proj" "$W/deps"
  local img_site; img_site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  # llama-cpp-python's runtime deps, without torch: links to the image's copies + diskcache.
  for p in numpy numpy.libs typing_extensions.py jinja2 markupsafe; do
    [ -e "$img_site/$p" ] && ln -sfn "$img_site/$p" "$W/deps/$p"
  done
  "$PY" -m pip install -q --no-deps --target "$W/deps" "$REPO"/.gpu/wheels/diskcache-*.whl
  local site
  for e in .venv .venv-gpu .venv310; do
    "$PY" -m venv --without-pip "$W/proj/$e"
  done
  site=$(echo "$W"/proj/.venv/lib/python3*/site-packages)
  "$PY" -m pip install -q --no-deps --target "$site" "$W"/wheels/cpu/*.whl
  echo "$W/deps" > "$site/venvsel-gpu-deps.pth"
  site=$(echo "$W"/proj/.venv310/lib/python3*/site-packages)
  "$PY" -m pip install -q --no-deps --target "$site" "$W"/wheels/cuda/*.whl
  echo "$img_site" > "$site/image-torch.pth"
  echo "$W/deps" > "$site/venvsel-gpu-deps.pth"
  touch "$W/proj/.done"
  log "envs: .venv (llama CPU build, no torch), .venv-gpu (empty), .venv310 (llama CUDA build + image torch)"
}

check() {
  [ -f "$OUT/.check-done" ] && { log "check: done before"; return 0; }
  # The seed: .venv is the active env when the "GPU" benchmark is started.
  cmd scan "VIRTUAL_ENV=\$PWD/.venv venvsel scan"
  cmd scan-json "venvsel scan --json > '$OUT/scan.json'; echo saved"
  cmd doctor "VIRTUAL_ENV=\$PWD/.venv venvsel doctor"
  cmd doctor-json "venvsel doctor --json > '$OUT/doctor.json'; echo saved"
  cmd pick "venvsel pick --need cuda --need llama-gpu"
  cmd pick-json "venvsel pick --need cuda --need llama-gpu --json > '$OUT/pick.json'; echo saved"
  cmd activate "eval \"\$(venvsel activate --need cuda)\" && echo \"VIRTUAL_ENV=\$VIRTUAL_ENV\" && python -c 'import torch; print(torch.__version__, torch.cuda.is_available(), torch.cuda.get_device_name(0)); print((torch.ones(3, device=\"cuda\") * 2).sum().item())'"
  cmd run "venvsel run --need llama-gpu -- python -c 'import sys, llama_cpp; print(sys.prefix); print(llama_cpp.__version__, llama_cpp.llama_supports_gpu_offload())'"
  cmd require-ok "VIRTUAL_ENV=\$PWD/.venv310 venvsel require --need cuda --need llama-gpu && echo 'require: ok'"
  cmd require-fail "VIRTUAL_ENV=\$PWD/.venv venvsel require --need llama-gpu"
  cmd repair-dry-run "venvsel repair .venv --dry-run"
  touch "$OUT/.check-done"
}

bench() {
  cmd bench-gpu "venvsel bench --env .venv310 --gpu --synthetic 3b --quant q4_0,q8_0 --json '$OUT/bench-gpu.json' --markdown '$OUT/bench-gpu.md'"
  cmd fallback-cpu-build "venvsel bench --env .venv --gpu --synthetic 3b --quant q4_0 --json '$OUT/bench-fallback-cpu-build.json'"
  cmd fallback-hidden "CUDA_VISIBLE_DEVICES= venvsel bench --env .venv310 --gpu --synthetic 3b --quant q4_0 --reps 3 --json '$OUT/bench-fallback-hidden.json'"
}

phases=("$@")
[ ${#phases[@]} -gt 0 ] || phases=(build envs check bench)
machine_facts
tool
for p in "${phases[@]}"; do "$p"; done
cp -r "$W/log" "$OUT/logs" 2>/dev/null || true
log "all phases done: ${phases[*]}"
