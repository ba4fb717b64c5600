"""chat_templates.py: whether a template renders tools, and a template that is not valid
Jinja refused at registration with its line and the ``chat_template`` param."""

from __future__ import annotations

import pytest

from aimaas.engine.chat_templates import check_chat_template, renders_tools
from aimaas.errors import InvalidInput

WITH_TOOLS = (
    "{% if tools %}{{ tools | tojson }}{% endif %}{% for m in messages %}{{ m }}{% endfor %}"
)
PLAIN = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"


def test_a_template_renders_tools_when_it_reads_them() -> None:
    assert renders_tools(WITH_TOOLS)
    assert not renders_tools(PLAIN)
    assert not renders_tools(None)
    assert not renders_tools("")


def test_valid_templates_and_none_pass() -> None:
    for template in (None, "", PLAIN, WITH_TOOLS, "plain text, no tags at all"):
        check_chat_template(template)


@pytest.mark.parametrize(
    ("template", "line"),
    [
        ("{% for m in messages %}{{ m }}", 1),  # never closed
        ("line one\nline two\n{{ messages[0] ", 3),
        ("{% if x %}\n{% endfor %}", 2),
    ],
)
def test_invalid_jinja_is_refused_naming_its_line(template: str, line: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_chat_template(template)
    assert caught.value.param == "chat_template"
    assert caught.value.message.startswith(f"The chat template is not valid Jinja (line {line}: ")
