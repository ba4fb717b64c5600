"""refusal.py: a refused upload is an InvalidInput naming the ``file`` parameter."""

from __future__ import annotations

import pytest

from aimaas.errors import InvalidInput
from aimaas.uploads.refusal import refused


def test_a_refusal_is_a_400_naming_the_file() -> None:
    error = refused("The file is empty; send a CSV with a header row.")
    assert isinstance(error, InvalidInput) and error.code == "invalid_request"
    assert error.param == "file"
    assert error.message == "The file is empty; send a CSV with a header row."
    with pytest.raises(InvalidInput, match="is empty") as caught:
        raise error
    assert caught.value is error
