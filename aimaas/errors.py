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
