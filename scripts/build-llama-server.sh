#!/usr/bin/env bash
# Build llama.cpp's llama-server natively for this CPU (AVX-512, VNNI, BF16 where present),
# from the llama.cpp sources that the llama-cpp-python source distribution on PyPI carries.
# The result lives in a cache outside the repository and is reused: a second run is a no-op.
# Usage: scripts/build-llama-server.sh [PYTHON]   (prints the binary's path on success)
set -euo pipefail

PYTHON=${1:-python3}
VERSION=0.3.36
CACHE=${AIMAAS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/aimaas}
DEST=$CACHE/llama-server-$VERSION
BINARY=$DEST/bin/llama-server

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

# Static libraries: one self-contained binary. The build folder is DEST itself, so an
# interrupted build resumes; the binary appears only when the final link succeeds.
cmake -S "$SRC/vendor/llama.cpp" -B "$DEST" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_USE_PREBUILT_UI=OFF >&2
cmake --build "$DEST" --target llama-server -j "$(nproc)" >&2
echo "$BINARY"
