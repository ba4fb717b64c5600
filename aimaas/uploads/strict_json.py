"""JSON parsed strictly: the one parser for request bodies, JSONL lines, safetensors headers
and model descriptions.

Python's json module accepts NaN, Infinity and -Infinity, numbers like 1e999 that overflow
to infinity, and a key twice (the last one wins); none of that is JSON, and each breaks or
fools whatever reads the value later. NaN and the infinities are always refused; the rest on
request. Nesting too deep for the parser is an error here, not a crash.
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

from aimaas.uploads.refusal import refused


class StrictJSONError(json.JSONDecodeError):
    """Why a text is not strict JSON. ``msg`` is the reason alone; ``str()`` adds the line and
    column where the parser knows them. ``too_deep``: the text nests past the parser's limit."""

    def __init__(
        self, reason: str, doc: str, pos: int, *, located: bool = True, too_deep: bool = False
    ) -> None:
        super().__init__(reason, doc, pos)
        if not located:  # a rule broken somewhere in the document: no position to show
            self.args = (reason,)
        self.too_deep = too_deep


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a valid JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of the range of a 64-bit float")
    return value


def _object_hook(unique_keys: bool, max_members: int | None) -> Any:
    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if max_members is not None and len(pairs) > max_members:
            raise ValueError(f"an object has more than {max_members} members")
        result = dict(pairs)
        if unique_keys and len(result) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise ValueError(f"the key {key[:64]!r} appears twice")
                seen.add(key)
        return result

    return build


def parse(
    text: str,
    *,
    unique_keys: bool = False,
    finite_numbers: bool = False,
    max_members: int | None = None,
) -> Any:
    """The value of ``text``; every failure is a ``StrictJSONError``.

    ``unique_keys`` refuses a key given twice in one object, ``finite_numbers`` a number that
    overflows a 64-bit float, ``max_members`` an object with more members than that."""
    hook = _object_hook(unique_keys, max_members) if unique_keys or max_members else None
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float if finite_numbers else None,
            object_pairs_hook=hook,
        )
    except json.JSONDecodeError as exc:
        raise StrictJSONError(exc.msg, exc.doc, exc.pos) from None
    except RecursionError:  # the parser's own limit on nesting
        raise StrictJSONError(
            "the JSON is nested too deeply", text, 0, located=False, too_deep=True
        ) from None
    except ValueError as exc:
        raise StrictJSONError(str(exc), text, 0, located=False) from None


def parse_upload(data: bytes, what: str) -> Any:
    """An uploaded JSON document (a safetensors header, a model description): UTF-8, strict,
    no key twice; a refusal names ``what``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise refused(f"The {what} is not UTF-8 text.") from None
    try:
        return parse(text, unique_keys=True)
    except StrictJSONError as exc:
        raise refused(f"The {what} is not valid JSON ({str(exc)[:200]}).") from None
