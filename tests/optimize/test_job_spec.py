"""An optimization job's spec: the method's options stored as JSON and read back as the
method's own model."""

from __future__ import annotations

from aimaas.optimize import methods
from aimaas.optimize.job_spec import OptimizationJobSpec


def test_options_round_trip_as_the_methods_model() -> None:
    for method, raw in [("prune", {"sparsity": 0.3}), ("export_onnx", {}),
                        ("quantize_static", {"calibration_rows": 8})]:  # fmt: skip
        written = OptimizationJobSpec(
            model="m:1", source_model="m", source_version=1, source_version_id="mv-1",
            method=method, options=methods.parse_options(method, raw), evaluation_file=None,
        )  # fmt: skip
        stored = written.model_dump(mode="json")
        assert stored["options"] == written.options.model_dump(mode="json")
        read = OptimizationJobSpec.model_validate(stored)
        assert type(read.options) is methods.OPTIONS[method] and read == written
