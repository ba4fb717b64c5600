#!/usr/bin/env bash
# Build llama.cpp's llama-server natively for this CPU (AVX-512, VNNI, BF16 where present),
# from the llama.cpp sources that the llama-cpp-python source distribution on PyPI carries.
#
# Never AMX: ggml's AMX kernels (ggml-cpu/amx) crash with SIGSEGV in ggml_backend_amx_mul_mat
# while loading a model on Sapphire Rapids and later CPUs (llama.cpp issue 20824, open
# without a fix), so -mno-amx-* keeps them out of a -march=native build; AVX-512/VNNI/BF16
# kernels stay.
#
# No binary is trusted untested: the build happens in a folder of its own, then
# `python -m aimaas.runtime.native_check BINARY` loads a shipped GGUF on it and generates a few
# tokens, and only a binary that passes is installed into the cache, where aimaas looks.
# A second run is a no-op.
# Usage: scripts/build-llama-server.sh [PYTHON]   (prints the binary's path on success)
set -euo pipefail

PYTHON=${1:-python3}
VERSION=0.3.36
# The build recipe: a new one (other flags) is a new cache entry, never an old binary reused.
RECIPE=noamx
CACHE=${AIMAAS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/aimaas}
DEST=$CACHE/llama-server-$VERSION-$RECIPE
BINARY=$DEST/bin/llama-server
BUILD=$CACHE/build/llama-server-$VERSION-$RECIPE

if [ -x "$BINARY" ]; then
  echo "$BINARY"
  exit 0
fi
command -v cmake >/dev/null || { echo "cmake is needed to build llama-server" >&2; exit 1; }

mkdir -p "$CACHE/sdist"
SRC=$CACHE/sdist/llama_cpp_python-$VERSION
if [ ! -d "$SRC/vendor/llama.cpp" ]; then
  "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: \
    "llama-cpp-python==$VERSION" -d "$CACHE/sdist" >&2
  tar -xzf "$CACHE/sdist/llama_cpp_python-$VERSION.tar.gz" -C "$CACHE/sdist"
fi

# Static libraries: one self-contained binary. An interrupted build resumes in BUILD.
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
cmake -S "$SRC/vendor/llama.cpp" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DGGML_NATIVE=ON -DCMAKE_C_FLAGS="$NO_AMX" -DCMAKE_CXX_FLAGS="$NO_AMX" \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_USE_PREBUILT_UI=OFF >&2
cmake --build "$BUILD" --target llama-server -j "$(nproc)" >&2

# The smoke check: load a shipped GGUF and generate; prints how it died if it does not.
"$PYTHON" -m aimaas.engine.native "$BUILD/bin/llama-server" >&2

mkdir -p "$DEST/bin"
cp "$BUILD/bin/llama-server" "$BINARY.partial"
mv "$BINARY.partial" "$BINARY"  # atomic: the binary appears only once it is proven
echo "$BINARY"
