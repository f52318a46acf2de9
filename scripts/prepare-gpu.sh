#!/usr/bin/env bash
# Prepare what scripts/gpu-validate.sh needs on the lent GPU machine, which has no package
# registry: a trimmed llama-cpp-python sdist (the full one is 77 MB, over the 64 MiB a device
# call can carry) and the wheels venvsel needs that the machine's image lacks. Everything
# lands in .gpu/ (git-ignored) and travels with `carry: [".gpu"]`.
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMA_VERSION="${LLAMA_VERSION:-0.3.36}"
out=.gpu
mkdir -p "$out/wheels" "$out/src"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -f "$out/src/llama_cpp_python-$LLAMA_VERSION-trimmed.tar.gz" ]; then
  python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    "llama-cpp-python==$LLAMA_VERSION" -d "$work/sdist"
  tar xzf "$work/sdist/llama_cpp_python-$LLAMA_VERSION.tar.gz" -C "$work"
  src="$work/llama_cpp_python-$LLAMA_VERSION"
  v="$src/vendor/llama.cpp"
  # What the build never reads (ANCHORS.md: this trimmed tree builds with CUDA on the H200).
  rm -rf "$v/models" "$v/docs" "$v/media" "$v/tests" "$v/benches" "$v/examples" \
         "$v/tools/ui" "$v/tools/server" "$v/.git" "$v/.github" "$v/.devops" \
         "$src/.git" "$src/.github" "$src/docs" "$src/examples" "$src/tests" "$src/docker"
  for b in "$v"/ggml/src/ggml-*/; do
    case "$(basename "$b")" in ggml-cpu|ggml-cuda|ggml-blas) ;; *) rm -rf "$b" ;; esac
  done
  tar czf "$out/src/llama_cpp_python-$LLAMA_VERSION-trimmed.tar.gz" -C "$work" \
    "llama_cpp_python-$LLAMA_VERSION"
fi

# The image has click, rich, packaging, filelock, shellingham, numpy, pyyaml, tqdm, jinja2,
# typing-extensions and nvidia-ml-py; these it lacks. Installed with --no-deps there.
python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_17_x86_64 --platform any -d "$out/wheels" \
  platformdirs tomlkit gguf diskcache virtualenv distlib python-discovery
du -sh "$out"/*
