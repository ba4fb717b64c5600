"""What one uploaded file may cost: bytes, entries, lines, columns. Passed to every check,
so a test (or a deployment) chooses its own; the defaults are the service's."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UploadLimits:
    # Text files (CSV, JSONL).
    max_line_bytes: int = 1 << 20
    max_csv_columns: int = 10_000
    # Zip archives (image folders, NPZ).
    max_zip_entries: int = 100_000
    max_central_directory_bytes: int = 16 << 20  # bounds the work of listing an archive
    max_entry_name_chars: int = 1024
    max_uncompressed_bytes: int = 2 << 30  # all entries of an archive together
    max_compression_ratio: int = 100
    ratio_floor_bytes: int = 1 << 20  # smaller entries may compress well without doing harm
    max_image_file_bytes: int = 64 << 20
    max_images_array_bytes: int = 2 << 30  # the decoded [N, H, W, C] array
    # Model files.
    max_safetensors_header_bytes: int = 100 * 1000 * 1000  # the safetensors library's own
    max_tensor_rank: int = 64
    max_onnx_bytes: int = 512 << 20  # an ONNX graph is read whole
    max_description_bytes: int = 64 << 20
    # How much is held at once while a file streams past.
    read_block_bytes: int = 1 << 20
    batch_rows: int = 8192  # CSV rows converted to numbers together
