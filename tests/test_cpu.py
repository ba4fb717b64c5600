from pathlib import Path

from aimaas.cpu import read_cpu, this_cpu


def test_reads_the_first_processors_model_and_flags(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\n"
        "flags\t\t: fpu avx2 avx512f avx512_vnni amx_tile amx_bf16\n\n"
        "processor\t: 1\nmodel name\t: other\nflags\t\t: fpu\n"
    )
    cpu = read_cpu(info)
    assert cpu.model == "Intel(R) Xeon(R) Processor"
    assert cpu.features == ("avx2", "avx512f", "avx512_vnni", "amx_tile", "amx_bf16")
    assert cpu.native_bf16


def test_avx2_only_has_no_native_bf16_and_a_missing_file_no_flags(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("model name : old\nflags : fpu sse2 avx2 fma\n")
    assert not read_cpu(info).native_bf16
    missing = read_cpu(tmp_path / "absent")
    assert missing.model == "unknown" and missing.flags == frozenset()


def test_this_cpu_reads_proc() -> None:
    cpu = this_cpu()
    assert cpu.model != "unknown" and "sse2" in cpu.flags  # every x86-64 CPU has SSE2
