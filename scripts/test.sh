#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, then lint, type-check
# and run the whole suite (slow integration tests included). Arguments go to pytest.
#
#   ./scripts/test.sh [PYTEST-ARGS...]           newest runtime dependencies (what a fresh
#                                                machine resolves), pinned test toolchain
#   ./scripts/test.sh --lowest [PYTEST-ARGS...]  every runtime dependency at its lowest
#                                                declared version, on the oldest Python the
#                                                project claims (3.9, from pyenv), unit tests
#
# The test toolchain (pytest, ruff, mypy, hypothesis, tree-sitter, uv, ...) is pinned exactly
# in requirements/test-tools.txt; ./scripts/upgrade-test-tools.sh moves it on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=newest
if [ "${1:-}" = "--lowest" ]; then mode=lowest; shift; fi

PIP=(python3 -m pip install -q --disable-pip-version-check)
TOOLS=requirements/test-tools.txt

versions() {  # what this run is about to use, before any check runs
  "$1" - <<'PY'
import importlib.metadata as md, platform, sys
names = ["click", "platformdirs", "virtualenv", "packaging", "filelock", "rich", "shellingham",
         "tomlkit", "tomli", "pytest", "hypothesis", "ruff", "mypy", "tree-sitter",
         "tree-sitter-powershell", "uv", "gguf", "numpy"]
found = []
for n in names:
    try:
        found.append(f"{n} {md.version(n)}")
    except md.PackageNotFoundError:
        pass
print(f"Python {platform.python_version()} ({sys.executable})")
print("versions: " + ", ".join(found))
PY
}

if [ "$mode" = lowest ]; then
  "${PIP[@]}" -c "$TOOLS" uv
  PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
  py39="${VENVSEL_LOWEST_PYTHON:-}"
  if [ -z "$py39" ]; then
    root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
    for cand in "$root"/versions/3.9*/bin/python3.9 "$(command -v python3.9 || true)"; do
      if [ -n "$cand" ] && [ -x "$cand" ]; then py39="$cand"; break; fi
    done
  fi
  if [ -z "$py39" ]; then
    echo "test.sh --lowest: no Python 3.9 found (pyenv install 3.9, or set VENVSEL_LOWEST_PYTHON)" >&2
    exit 2
  fi
  venv="$(mktemp -d)/lowest"
  trap 'rm -rf "$(dirname "$venv")"' EXIT
  # No --seed: seeding brings wheel, and with it a new packaging that lowest-direct would
  # then leave in place; pip comes pinned from the toolchain file instead.
  uv venv -q --python "$py39" "$venv"
  # Direct runtime dependencies at their lowest declared versions; the toolchain as pinned.
  uv pip install -q --python "$venv/bin/python" --resolution lowest-direct -c "$TOOLS" \
    -e '.[test,bench]' pip
  versions "$venv/bin/python"
  rc=0
  # The PowerShell grammar (tree-sitter-powershell) is published for Python 3.10+ only, so
  # its parse tests run in the default mode, not here.
  "$venv/bin/python" -m pytest tests/unit --ignore tests/unit/test_shells_powershell.py \
    --ignore tests/unit/test_auto_powershell.py "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then rc=0; fi
  exit "$rc"
fi

need_apt=()
for sh in zsh fish dash; do command -v "$sh" >/dev/null 2>&1 || need_apt+=("$sh"); done
# A C compiler: llama-cpp-python builds from source, and bench's C tg loop is built with it.
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v c++ >/dev/null 2>&1 || need_apt+=(g++)
# A real Slurm for the fleet and job-guard tests (tests/slurm.py starts and stops it).
for tool in slurmctld:slurmctld slurmd:slurmd srun:slurm-client munged:munge; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --upgrade-strategy eager: the runtime dependencies resolve to their newest releases, as
# on a fresh machine, even where an older release is already installed here.
"${PIP[@]}" --upgrade --upgrade-strategy eager -c "$TOOLS" -e '.[test,bench,plot,nvml]'
# The scripts pip just installed (venvsel, uv) on PATH, also under pyenv's shims.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
export PATH
versions python3

python3 -m ruff check venvsel tests benchmarks
python3 -m mypy

rc=0
python3 -m pytest "$@" || rc=$?
# 5 = no tests collected (a -k/-m selection can be empty): not a failure of the suite.
if [ "$rc" -eq 5 ]; then rc=0; fi
exit "$rc"
