#!/usr/bin/env bash
# Upgrade the pinned test toolchain on purpose: re-resolve requirements/test-tools.in to the
# newest releases for every Python venvsel supports (3.9+) and write test-tools.txt. Then run
# ./scripts/test.sh: whatever the upgrade broke shows there, and the diff of test-tools.txt
# says what moved. Runtime dependencies (pyproject's [project] dependencies) are never pinned
# here: a fresh machine resolves them to their newest releases, and `test.sh --lowest` to
# their lowest.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null 2>&1 || { echo "upgrade-test-tools: needs uv (pip install uv)" >&2; exit 2; }

# Leave the runtime dependencies (and what they share with the tools) unpinned.
no_emit=()
while read -r name; do no_emit+=(--no-emit-package "$name"); done < <(
  python3 - <<'PY'
import re, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
for d in deps:
    print(re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower())
PY
)
uv pip compile --quiet --universal --python-version 3.9 --upgrade "${no_emit[@]}" \
  requirements/test-tools.in -o requirements/test-tools.txt
echo "requirements/test-tools.txt re-resolved; now run ./scripts/test.sh" >&2
git --no-pager diff --stat -- requirements/test-tools.txt 2>/dev/null || true
