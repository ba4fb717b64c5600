"""Domain exceptions. They know nothing of HTTP; server/errors.py maps them to responses."""

from __future__ import annotations


class AimaasError(Exception):
    """Base of every error aimaas reports to a user. ``message`` is safe to show."""

    code: str = "internal_error"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class InvalidInput(AimaasError):
    code = "invalid_request"


class ContextExceeded(InvalidInput):
    """A prompt (or a prompt and its ``max_tokens``) that does not fit a model's context."""

    def __init__(self, *, prompt_tokens: int | None, context_length: int, param: str) -> None:
        if prompt_tokens is None:
            message = "The prompt does not fit"
        else:
            message = f"The prompt has {prompt_tokens} tokens"
        super().__init__(
            f"{message}; this model takes at most {context_length} tokens per request "
            "(prompt and output). Shorten the prompt.",
            param=param,
        )
        self.prompt_tokens = prompt_tokens
        self.context_length = context_length


class Unauthorized(AimaasError):
    code = "invalid_api_key"


class Forbidden(AimaasError):
    code = "insufficient_scope"


class NotFound(AimaasError):
    code = "not_found"


class Conflict(AimaasError):
    code = "conflict"


class PayloadTooLarge(AimaasError):
    code = "payload_too_large"


class Overloaded(AimaasError):
    code = "overloaded"

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QuotaExceeded(Overloaded):
    code = "quota_exceeded"


class Unavailable(AimaasError):
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IntegrityFailed(Unavailable):
    """Stored bytes (an artifact encrypted at rest) that do not authenticate or are missing:
    what they belong to is unavailable until restored from a backup; nothing else is."""

    code = "integrity_check_failed"

    def __init__(self, message: str, *, retry_after: float = 3600.0) -> None:
        super().__init__(message, retry_after=retry_after)


class EngineDied(Unavailable):
    """A native engine child process ended: ``how`` is its signal or exit code, ``stderr``
    its last lines. The message names the model and how, never the stderr (it may hold
    paths); the log has both."""

    code = "engine_died"

    def __init__(self, message: str, *, how: str, stderr: str) -> None:
        super().__init__(message)
        self.how = how
        self.stderr = stderr
