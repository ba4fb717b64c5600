"""Chat templates: whether one renders tools, and refusing one that is not valid Jinja."""

from __future__ import annotations

from aimaas.errors import InvalidInput


def renders_tools(chat_template: str | None) -> bool:
    """Whether a chat template renders tool definitions (so tool calls can work)."""
    return chat_template is not None and "tools" in chat_template


def check_chat_template(template: str | None) -> None:
    """A template that does not parse would only fail when the model loads: refuse it at
    registration, naming the line."""
    if template is None:
        return
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    try:
        ImmutableSandboxedEnvironment().parse(template)
    except TemplateSyntaxError as exc:
        raise InvalidInput(
            f"The chat template is not valid Jinja (line {exc.lineno}: {exc.message}).",
            param="chat_template",
        ) from None
