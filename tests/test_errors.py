"""errors.py: each domain error's code (what the API answers with), its safe message, its
``param``, and the extra fields the HTTP layer reads (retry_after, how, stderr)."""

from __future__ import annotations

import pytest

from aimaas.errors import (
    AimaasError,
    Conflict,
    ContextExceeded,
    EngineDied,
    Forbidden,
    IntegrityFailed,
    InvalidInput,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    QuotaExceeded,
    Unauthorized,
    Unavailable,
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (AimaasError, "internal_error"),
        (InvalidInput, "invalid_request"),
        (Unauthorized, "invalid_api_key"),
        (Forbidden, "insufficient_scope"),
        (NotFound, "not_found"),
        (Conflict, "conflict"),
        (PayloadTooLarge, "payload_too_large"),
    ],
)
def test_a_plain_error_keeps_its_message_and_param(error: type[AimaasError], code: str) -> None:
    raised = error("What went wrong.", param="name")
    assert raised.code == code
    assert (raised.message, str(raised), raised.param) == ("What went wrong.",) * 2 + ("name",)
    assert error("No parameter.").param is None


def test_busy_errors_say_when_to_retry() -> None:
    assert Overloaded("busy").retry_after == 1.0
    quota = QuotaExceeded("over quota", retry_after=30)
    assert isinstance(quota, Overloaded) and quota.code == "quota_exceeded"
    assert (quota.retry_after, quota.message, quota.param) == (30, "over quota", None)
    assert Unavailable("down").retry_after == 1.0 and Unavailable("down").code == "unavailable"


def test_an_integrity_failure_is_unavailable_for_an_hour_by_default() -> None:
    failed = IntegrityFailed("artifact 3 does not authenticate")
    assert isinstance(failed, Unavailable) and failed.code == "integrity_check_failed"
    assert failed.retry_after == 3600.0
    assert IntegrityFailed("x", retry_after=5).retry_after == 5


def test_a_dead_engine_keeps_how_and_stderr_out_of_its_message() -> None:
    died = EngineDied("llama-server for 'm' died (SIGSEGV).", how="SIGSEGV", stderr="/secret")
    assert isinstance(died, Unavailable) and died.code == "engine_died"
    assert (died.how, died.stderr) == ("SIGSEGV", "/secret")
    assert "/secret" not in died.message and died.retry_after == 1.0


def test_context_exceeded_says_the_prompt_size_when_known() -> None:
    known = ContextExceeded(prompt_tokens=600, context_length=512, param="messages")
    assert isinstance(known, InvalidInput) and known.code == "invalid_request"
    assert known.message == (
        "The prompt has 600 tokens; this model takes at most 512 tokens per request "
        "(prompt and output). Shorten the prompt."
    )
    assert (known.param, known.prompt_tokens, known.context_length) == ("messages", 600, 512)
    unknown = ContextExceeded(prompt_tokens=None, context_length=512, param="prompt")
    assert unknown.message.startswith("The prompt does not fit; this model takes at most 512")
    assert unknown.prompt_tokens is None and unknown.param == "prompt"
