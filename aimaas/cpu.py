"""This machine's CPU, as the kernels that run on it see it: its model name and feature flags
(from /proc/cpuinfo; empty where there is none)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

# The features that decide which kernels llama.cpp, PyTorch and ONNX Runtime use.
FEATURES = (
    "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
    "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
)  # fmt: skip
BF16_FEATURES = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class Cpu:
    model: str
    flags: frozenset[str]

    @property
    def features(self) -> tuple[str, ...]:
        """Those of ``FEATURES`` this CPU has, in that order."""
        return tuple(f for f in FEATURES if f in self.flags)

    @property
    def native_bf16(self) -> bool:
        """Whether it computes in bfloat16 natively (AVX512_BF16 or AMX)."""
        return bool(self.flags & BF16_FEATURES)


def read_cpu(cpuinfo: Path) -> Cpu:
    """The first processor's model name and flags in a /proc/cpuinfo-style file."""
    model, flags = "unknown", frozenset[str]()
    try:
        text = cpuinfo.read_text()
    except OSError:
        return Cpu(model, flags)
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown":
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = frozenset(value.split())
    return Cpu(model, flags)


@cache
def this_cpu() -> Cpu:
    return read_cpu(Path("/proc/cpuinfo"))
