#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, then lint, type-check
# and run the whole suite (slow integration tests included). Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for sh in zsh fish dash; do command -v "$sh" >/dev/null 2>&1 || need_apt+=("$sh"); done
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test,bench,plot,nvml]'
# The scripts pip just installed (venvsel, uv) on PATH, also under pyenv's shims.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
export PATH

python3 -m ruff check venvsel tests benchmarks
python3 -m mypy

rc=0
python3 -m pytest "$@" || rc=$?
# 5 = no tests collected (a -k/-m selection can be empty): not a failure of the suite.
if [ "$rc" -eq 5 ]; then rc=0; fi
exit "$rc"
