"""The whole text a model generates for one request, for checks that need no stream."""

from __future__ import annotations

import contextlib

from aimaas.engine.types import GenerationRequest, TextGenerator


async def generated_text(model: TextGenerator, request: GenerationRequest) -> str:
    text = ""
    async with contextlib.aclosing(model.stream(request)) as outputs:  # type: ignore[type-var]
        async for output in outputs:
            text += "".join(choice.text for choice in output.choices)
    return text
