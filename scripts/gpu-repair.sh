#!/usr/bin/env bash
# Issue 18 on the lent H200: the seed's .venv (CPU-only llama-cpp-python, the image's CUDA
# torch made visible) repaired for real by `venvsel repair`, the same repair interrupted in
# the nvcc compile (SIGTERM; SIGKILL + `venvsel repair --recover`) with tree hashes, the
# repaired env benched, llama-bench beside it, and the warm pick timed.
#
# Run scripts/prepare-gpu-repair.sh here first (fills .gpu/: code, wheels, the find-links
# folder with the trimmed sdist, the CPU wheel, llama-bench). Then on the GPU machine, from
# the repository root, with .gpu carried:
#
#     bash .gpu/gpu-repair.sh PHASE...
#
# As run for docs/gpu-validation.md (issue 18), chained so the machine stays warm:
#     setup envs look sigterm sigkill repair_start wait=540 pack
#     after warm; fidelity; savelib pack
#     (fresh machine) setup envs sigkill repair_start wait=400 hashafter warm; fid17gpu; pack
#     fid17cpu; pack
#     (issue 17, second wave) setup envs repair_start wait=540; fid17cpu tg17 pack
#     (issue 17, CPU build only) setup envs fid17cpu pack
#
# Phases are idempotent (a finished phase is skipped), so a later call on the same machine
# continues. Everything lands in $W/out; `pack` tars it into $OUT (one file comes back).
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
G=$REPO/.gpu
W=${VENVSEL_GPU_WORK:-/tmp/v18}
O=$W/out
PY=${GPU_PYTHON:-python3}
LLAMA_VERSION=0.3.36
mkdir -p "$W" "$O"
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
export PATH="/usr/local/cuda/bin:$W/bin:$PATH"
export VENVSEL_CACHE_DIR="$W/cache" VENVSEL_LOG_DIR="$W/log"
# The image's cmake and ninja are pip packages whose bin/ scripts are Python shims: inside
# pip's isolated build env they cannot import their own module, so scikit-build-core finds no
# usable cmake and asks the (offline) index for one. Put the real binaries first on PATH.
for tool in cmake ninja; do
  d=$("$PY" -c "import os, $tool; print(os.path.join(os.path.dirname($tool.__file__), 'data', 'bin'))" 2>/dev/null)
  [ -n "$d" ] && [ -x "$d/$tool" ] && PATH="$d:$PATH"
done
export PATH
P=$W/proj
LINKS=$W/links
T0=$(date +%s)
log() { printf '[%s +%4ss] %s\n' "$(date -u +%H:%M:%S)" "$(( $(date +%s) - T0 ))" "$*" | tee -a "$O/timeline.txt"; }
th() { "$PY" "$G/tree-hash.py" "$1"; }

# One command as a user would type it, in $P: transcript with exit code and wall time.
cmd() {
  local name=$1; shift
  local f="$O/$name.txt"
  log "run $name: $*"
  echo "\$ $*" > "$f"
  local t0; t0=$(date +%s%N)
  ( cd "$P" && bash -c "$*" ) >> "$f" 2>&1
  local rc=$?
  printf '[exit %s, %s ms]\n' "$rc" "$(( ($(date +%s%N) - t0) / 1000000 ))" >> "$f"
  log "  -> exit $rc"
}

wrapper() {  # wrapper NAME CODE_DIR: a venvsel console script running CODE_DIR's package
  # The entry point pyproject.toml's console script names: venvsel.fast (the click-free front
  # door) where the code has it, else the click CLI (code from before it existed).
  local mod=venvsel.cli; [ -f "$2/venvsel/fast.py" ] && mod=venvsel.fast
  cat > "$W/bin/$1" <<EOF
#!$(command -v "$PY")
import sys
sys.path[:0] = ["$W/site", "$2"]
from $mod import entry
entry()
EOF
  chmod +x "$W/bin/$1"
}

setup() {
  [ -f "$W/.setup" ] && return 0
  log "setup"
  mkdir -p "$W/bin" "$W/site" "$LINKS"
  "$PY" -m pip install -q --no-index --no-deps --target "$W/site" "$G"/wheels/*.whl
  wrapper venvsel "$G/code18"          # this branch (issue-18)
  wrapper venvsel-main "$G/codemain"   # main's committed code
  [ -d "$G/code16/venvsel" ] && wrapper venvsel-16 "$G/code16"
  # The offline wheel folder a user would pass with --find-links: the sdist under its real
  # name, and the build backend pip's isolated build needs (cmake and ninja are the image's).
  cp "$G/src/llama_cpp_python-$LLAMA_VERSION-trimmed.tar.gz" "$LINKS/llama_cpp_python-$LLAMA_VERSION.tar.gz"
  cp "$G"/links/*.whl "$LINKS/"
  {
    echo "== date"; date -u
    echo "== nvidia-smi"; nvidia-smi --query-gpu=index,name,driver_version,compute_cap,memory.total --format=csv,noheader
    echo "== nvcc"; nvcc --version | tail -2
    echo "== cmake / ninja (real binaries first on PATH)"; command -v cmake ninja; cmake --version | head -1; ninja --version
    echo "== python"; "$PY" -c 'import sys, torch; print(sys.version.split()[0], sys.executable); print(torch.__version__, torch.version.cuda)'
    echo "== nproc"; nproc
    echo "== find-links folder"; ls -la "$LINKS"
  } > "$O/machine.txt" 2>&1
  touch "$W/.setup"
}

envs() {
  # The seed's .venv as it was: llama-cpp-python CPU-only (the wheel built from the same
  # sdist, no CUDA), its diskcache dependency, and the machine's CUDA torch visible through a
  # .pth file (the image's python is itself a venv: --system-site-packages would not show it).
  [ -f "$W/.envs-done" ] && return 0
  log "envs"
  rm -rf "$P"; mkdir -p "$P"
  "$PY" -m venv --without-pip "$P/.venv"
  local site; site=$(echo "$P"/.venv/lib/python3*/site-packages)
  local img; img=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$PY" -m pip install -q --no-index --no-deps --target "$site" "$G"/cpuwheel/llama_cpp_python-*.whl "$G"/wheels/diskcache-*.whl
  echo "$img" > "$site/image-torch.pth"
  # used once, as a user's env has been (bytecode written next to llama_cpp's modules)
  "$P/.venv/bin/python" -c 'import llama_cpp, torch; print("llama_cpp", llama_cpp.__version__, "offload", llama_cpp.llama_supports_gpu_offload(), "| torch", torch.__version__, torch.cuda.is_available())' > "$O/seed-venv.txt" 2>&1
  ls "$site/llama_cpp/lib" >> "$O/seed-venv.txt"
  th "$P/.venv" > "$O/hash-0-seed.txt"
  cat "$O/seed-venv.txt" "$O/hash-0-seed.txt" | tee -a "$O/timeline.txt"
  touch "$W/.envs-done"
}

look() {
  [ -f "$O/.look" ] && return 0
  cmd 01-scan "venvsel scan"
  cmd 02-doctor "venvsel doctor"
  cmd 03-repair-dry-run "venvsel repair .venv --find-links $LINKS --dry-run"
  cmd 03-repair-dry-run-json "venvsel repair .venv --find-links $LINKS --dry-run --json > $O/repair-dry-run.json; echo saved"
  touch "$O/.look"
}

warm() {
  # Warm pick/activate against import click, interleaved (main, this branch, issue-16).
  [ -f "$O/.warm" ] && return 0
  log "warm path"
  # The image sets PYTHONDONTWRITEBYTECODE=1: without this, every run compiles venvsel from
  # source (the first wave-2 measurement, 2.15x, was that), where pip would have compiled it.
  "$PY" -m compileall -q "$G"/code* "$W/site" > /dev/null
  local impls="main 18"; [ -x "$W/bin/venvsel-16" ] && impls="main 18 16"
  impls=${WARM_IMPLS:-$impls}
  local args=(--runs "${WARM_RUNS:-15}" --base click --cmd "click=$PY -c 'import click'" --cmd "pass=$PY -S -c pass")
  for i in $impls; do
    local exe=venvsel; [ "$i" = 18 ] || exe=venvsel-$i
    ( cd "$P" && VENVSEL_CACHE_DIR=$W/cache-$i "$exe" scan > /dev/null 2>&1 )
    args+=(--cmd "pick-$i=env VENVSEL_CACHE_DIR=$W/cache-$i $W/bin/$exe pick --need cuda")
    args+=(--cmd "activate-$i=env VENVSEL_CACHE_DIR=$W/cache-$i $W/bin/$exe activate --need cuda")
    ( cd "$P" && VENVSEL_CACHE_DIR=$W/cache-$i "$PY" -X importtime "$W/bin/$exe" pick --need cuda ) \
      > "$O/importtime-pick-$i.out" 2> "$O/importtime-pick-$i.txt"
  done
  ( cd "$P" && "$PY" -X importtime -c 'import click' 2> "$O/importtime-click.txt" )
  ( cd "$P" && "$PY" "$G/warm_path_gpu.py" "${args[@]}" --json "$O/warm.json" ) > "$O/warm.txt" 2>&1
  cat "$O/warm.txt" | tee -a "$O/timeline.txt"
  touch "$O/.warm"
}

# Interrupt the repair once nvcc runs. $1: TERM or KILL.
interrupt() {
  local sig=$1 name=interrupt-$1
  [ -f "$O/.$name" ] && return 0
  local f="$O/$name.txt"
  log "interrupt with SIG$sig"
  th "$P/.venv" > "$O/hash-$sig-before.txt"
  echo "\$ venvsel repair .venv --find-links $LINKS --yes    # SIG$sig once nvcc runs" > "$f"
  ( cd "$P" && exec venvsel repair .venv --find-links "$LINKS" --yes ) >> "$f" 2>&1 &
  local pid=$! waited=0
  # nvcc compiling ggml-cuda sources (not the compiler check of cmake's configure step)
  local seen=no
  while [ $waited -lt 400 ]; do
    if pgrep -f 'nvcc .*ggml-cuda/[^ ]*\.cu' > /dev/null; then seen=yes; break; fi
    kill -0 $pid 2>/dev/null || break
    sleep 0.5; waited=$((waited + 1))
  done
  log "  nvcc compiling ggml-cuda sources: $seen (after $((waited / 2)) s)"
  sleep 4  # well inside the compile
  { echo "--- processes when SIG$sig was sent ($(date -u +%T)):";
    ps -eo pid,pgid,etimes,args --sort=pid | grep -E '[n]vcc|[c]icc|[p]txas|[n]inja|[c]make|pip install' | cut -c1-200 | head -25; } > "$O/$name-ps.txt"
  echo "--- SIG$sig to venvsel (pid $pid) at $(date -u +%T)" >> "$f"
  kill -"$sig" $pid
  wait $pid; echo "[venvsel exit $?]" >> "$f"
  if [ "$sig" = KILL ]; then
    sleep 2
    { echo "--- still running after SIGKILL ($(date -u +%T)):";
      ps -eo pid,pgid,etimes,args --sort=pid | grep -E '[n]vcc|[c]icc|[p]txas|[n]inja|[c]make|pip install' | cut -c1-200 | head -25;
      echo "--- next to the env:"; ls -a "$P"; } >> "$O/$name-ps.txt"
    cmd "$name-recover" "venvsel repair --recover"
  fi
  sleep 1
  { echo "--- nvcc/cicc/ptxas left afterwards: $(pgrep -c -x nvcc; pgrep -c cicc; pgrep -c ptxas | tr '\n' ' ')";
    echo "--- next to the env:"; ls -a "$P"; } >> "$O/$name-ps.txt"
  th "$P/.venv" > "$O/hash-$sig-after.txt"
  log "  hashes: $(cut -c1-16 "$O/hash-$sig-before.txt") -> $(cut -c1-16 "$O/hash-$sig-after.txt")"
  touch "$O/.$name"
}

repair_start() {
  [ -f "$O/.repair-started" ] && return 0
  log "repair (background, setsid)"
  th "$P/.venv" > "$O/hash-repair-before.txt"
  echo "\$ venvsel repair .venv --find-links $LINKS --yes" > "$O/10-repair.txt"
  setsid nohup bash -c "cd '$P' && t0=\$(date +%s%N); venvsel repair .venv --find-links '$LINKS' --yes >> '$O/10-repair.txt' 2>&1; rc=\$?; echo \"[exit \$rc, \$(( (\$(date +%s%N) - t0) / 1000000 )) ms]\" >> '$O/10-repair.txt'; touch '$O/.repair-done'" > /dev/null 2>&1 &
  touch "$O/.repair-started"
}

repair_wait() {  # $1: give up after this many seconds of this call
  local limit=${1:-500}
  while [ ! -f "$O/.repair-done" ] && [ $(( $(date +%s) - T0 )) -lt "$limit" ]; do sleep 5; done
  if [ -f "$O/.repair-done" ]; then log "repair finished: $(tail -1 "$O/10-repair.txt")"
  else log "repair still running"; tail -3 "$O/10-repair.txt"; fi
}

after() {
  [ -f "$O/.repair-done" ] || return 0
  [ -f "$O/.after" ] && return 0
  th "$P/.venv" > "$O/hash-repair-after.txt"
  cmd 11-check "ls .venv/lib/python3*/site-packages/llama_cpp/lib; .venv/bin/python -c 'import llama_cpp, torch; print(llama_cpp.__version__, llama_cpp.llama_supports_gpu_offload()); print(llama_cpp.llama_print_system_info().decode()); print(torch.__version__, torch.cuda.is_available())'"
  cmd 12-bench-gpu "venvsel bench --env .venv --gpu --synthetic 3b --json $O/bench-gpu.json --markdown $O/bench-gpu.md"
  cmd 13-scan "venvsel scan"
  touch "$O/.after"
}

lbsetup() {
  # llama-bench built here from the same vendored llama.cpp (CPU ggml only), run with the
  # repaired env's llama_cpp/lib first on LD_LIBRARY_PATH: the same libraries as venvsel bench.
  [ -x "$W/lb/llama-bench" ] && return 0
  mkdir -p "$W/lb"
  cp -a "$G"/lb/* "$W/lb/"
  local lib; lib=$(echo "$P"/.venv/lib/python3*/site-packages/llama_cpp/lib)
  { echo "== ldd"; LD_LIBRARY_PATH="$lib:$W/lb" ldd "$W/lb/llama-bench";
    echo "== --list-devices"; LD_LIBRARY_PATH="$lib:$W/lb" "$W/lb/llama-bench" --list-devices; } > "$O/llama-bench-ldd.txt" 2>&1
  tail -3 "$O/llama-bench-ldd.txt"
}

fidelity() {
  [ -f "$O/.fidelity" ] && return 0
  [ -f "$O/.after" ] || { log "fidelity: no repaired env yet"; return 0; }
  lbsetup
  local q4 q8
  q4=$(ls "$W"/cache/models/synthetic-3b-q4_0-*.gguf | head -1)
  q8=$(ls "$W"/cache/models/synthetic-3b-q8_0-*.gguf | head -1)
  log "fidelity (minimal, fa 0): $q4 $q8"
  ( cd "$P" && "$PY" "$G/gpu_llama_bench_min.py" --venvsel venvsel --env "$P/.venv" \
      --llama-bench "$W/lb/llama-bench" --lb-lib "$W/lb" --model "q4_0=$q4" --model "q8_0=$q8" \
      --devices "${FID_DEVICES:-gpu,cpu}" --rounds-gpu "${FID_ROUNDS_GPU:-3}" --rounds-cpu "${FID_ROUNDS_CPU:-2}" \
      --json "$O/fidelity-min.json" --markdown "$O/fidelity-min.md" ) > "$O/fidelity-min.txt" 2>&1
  tail -8 "$O/fidelity-min.txt"
  touch "$O/.fidelity"
}

hashafter() {
  [ -f "$O/.repair-done" ] && th "$P/.venv" > "$O/hash-repair-after.txt"
}

lbdir() {
  # llama-bench's own two libraries where its RUNPATH (the build dir it was linked in) says;
  # libllama/libggml come from the env through LD_LIBRARY_PATH, which is searched first.
  local rp; rp=$(readelf -d "$G/lb/llama-bench" 2>/dev/null | sed -n 's/.*runpath: \[\([^]:]*\).*/\1/p')
  rp=${rp:-$W/lbbuild/bin}
  mkdir -p "$rp"; cp -P "$G"/lb/* "$rp/"
  echo "$(dirname "$rp")"
}

fid17() {  # the bench-parity issue's script (branch issue-17): $1 gpu|cpu
  [ -f "$O/.fid17-$1" ] && return 0
  if [ ! -f "$O/.repair-done" ]; then
    # The CPU run needs no CUDA build: before the repair the seed's .venv holds the CPU-only
    # wheel built on the dev machine (AVX2), which llama-bench then runs on too (--same-libs).
    [ "$1" = cpu ] || { log "fid17: no repaired env"; return 0; }
    # ... but not while a repair is rewriting that env
    [ -f "$O/.repair-started" ] && { log "fid17 cpu: the repair is still running"; return 0; }
    log "fid17 cpu: no repair done, measuring the seed's CPU-only build"
  fi
  "$PY" -m pip install -q --no-index --no-deps "$G"/wheels/*.whl > /dev/null 2>&1  # for its venvsel runs
  local build; build=$(lbdir)
  log "fid17 $1 (build dir $build)"
  if [ "$1" = gpu ]; then
    ( cd "$P" && "$PY" "$G/code17/benchmarks/bench_vs_llama_bench.py" --env "$P/.venv" --gpu \
        --synthetic 3b --quant q4_0,q8_0 --fa 0,1 --rounds "${R17:-3}" --reps 5 -t 16 \
        --build-dir "$build" --same-libs --out "$O/fid17-gpu.json" ) > "$O/fid17-gpu.txt" 2>&1
  else
    ( cd "$P" && CUDA_VISIBLE_DEVICES= "$PY" "$G/code17/benchmarks/bench_vs_llama_bench.py" \
        --env "$P/.venv" --synthetic "${S17CPU:-3b}" --quant "${Q17CPU:-q4_0}" --fa "${FA17CPU:-0,1}" \
        --rounds "${R17CPU:-2}" --reps "${REPS17CPU:-3}" -t "${T17CPU:-16}" ${PIN17CPU:+--pin "$PIN17CPU"} \
        ${NICE17CPU:+--nice "$NICE17CPU"} --build-dir "$build" --same-libs --out "$O/fid17-cpu.json" ) > "$O/fid17-cpu.txt" 2>&1
  fi
  echo "[exit $?]" >> "$O/fid17-$1.txt"
  tail -14 "$O/fid17-$1.txt" | tee -a "$O/timeline.txt"
  touch "$O/.fid17-$1"
}

tg17() {  # issue 17: the interpreter's share of tg on this CPU (CUDA build, GPU hidden)
  [ -f "$O/.tg17" ] && return 0
  [ -f "$O/.repair-done" ] || { log "tg17: no repaired env"; return 0; }
  "$PY" -m pip install -q --no-index --no-deps "$G"/wheels/*.whl > /dev/null 2>&1
  local build; build=$(lbdir)
  local b="$G/code17/benchmarks" m
  for m in ${S17TG:-tiny}; do
    local gguf; gguf=$("$PY" -c "import sys; sys.path.insert(0, '$G/code17')
from venvsel.bench import synth; print(synth.ensure_model('$m', 'q4_0', progress=False).path)")
    log "tg17 $m ($gguf): tg_loop_ab, tg_loop_cross"
    ( cd "$P" && CUDA_VISIBLE_DEVICES= "$PY" "$b/tg_loop_ab.py" --env "$P/.venv" --model "$gguf" \
        --rounds "${AB17ROUNDS:-300}" --pin "${PIN17CPU:-5}" --nice -20 --out "$O/tg_loop_ab_$m.json" ) \
      > "$O/tg_loop_ab_$m.txt" 2>&1 || echo "[tg_loop_ab failed]" >> "$O/tg_loop_ab_$m.txt"
    ( cd "$P" && CUDA_VISIBLE_DEVICES= "$PY" "$b/tg_loop_cross.py" --env "$P/.venv" --synthetic "$m" \
        --rounds "${X17ROUNDS:-16}" --reps "${X17REPS:-30}" --pin "${PIN17CPU:-5}" --nice -20 \
        --build-dir "$build" --same-libs --out "$O/tg_loop_cross_$m.json" ) \
      > "$O/tg_loop_cross_$m.txt" 2>&1 || echo "[tg_loop_cross failed]" >> "$O/tg_loop_cross_$m.txt"
    tail -4 "$O/tg_loop_ab_$m.txt" "$O/tg_loop_cross_$m.txt" | tee -a "$O/timeline.txt"
  done
  touch "$O/.tg17"
}

savelib() {
  # The repaired env's CUDA llama_cpp, in pieces small enough to come back, for a later call.
  local site; site=$(echo "$P"/.venv/lib/python3*/site-packages)
  tar cf - -C "$site" llama_cpp llama_cpp_python-$LLAMA_VERSION.dist-info | xz -T0 -6 | split -b 15m - "$OUT/cudalib.tar.xz."
  ls -la "$OUT"
}

pack() {
  cp -r "$W/log" "$O/logs" 2>/dev/null
  tar czf "$OUT/out18.tar.gz" -C "$W" out
  ls -la "$OUT"
}

for p in "$@"; do
  case $p in
    wait=*) repair_wait "${p#wait=}" ;;
    sigterm) interrupt TERM ;;
    sigkill) interrupt KILL ;;
    fid17gpu) fid17 gpu ;;
    fid17cpu) fid17 cpu ;;
    *) "$p" ;;
  esac
done
log "phases done: $*"
