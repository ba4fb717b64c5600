from __future__ import annotations

import pytest

from aimaas.engine.admission import Admission
from aimaas.errors import Overloaded


def test_running_then_waiting_then_refused() -> None:
    admission = Admission(max_running=2, max_waiting=1)
    for _ in range(3):
        admission.enter("m")
    assert (admission.running, admission.waiting) == (2, 1)
    with pytest.raises(Overloaded) as refused:
        admission.enter("m")
    assert refused.value.retry_after >= 1 and "'m' is busy" in refused.value.message
    admission.leave()
    assert (admission.running, admission.waiting) == (2, 0)
    admission.enter("m")
    for _ in range(5):
        admission.leave()
    assert admission.in_flight == 0
