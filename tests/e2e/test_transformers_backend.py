"""Hugging Face causal language models on transformers' continuous batching, through the
official `openai` client against a real server process.

The model is a tiny random Llama built here, with a tokenizer trained here on a generated
corpus: nothing is downloaded.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.e2e.server import LiveServer, start_server

pytestmark = pytest.mark.e2e

MODEL = "tiny-hf"
CONTEXT = 1024
WORDS = [
    "alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "green", "seven", "quick",
    "brown", "fox", "jumps", "over", "the", "lazy", "dog", "hello", "world", "number",
    "sentence", "story", "long", "tell", "me", "about", "a",
]  # fmt: skip
TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tiny_llama(folder: Path, *, dtype: str = "float32", chat: bool = True) -> None:
    """A 2-layer random Llama and a byte-level BPE tokenizer (only characters of its corpus,
    so every token decodes to text) with bos/eos and, if ``chat``, a chat template; saved as
    safetensors in ``dtype``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    rng = random.Random(0)
    corpus = [
        " ".join(rng.choice(WORDS) for _ in range(12)) + rng.choice([".", ",", "!", "?"])
        for _ in range(1000)
    ]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "</s>", "<pad>"])
    tokenizer.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        chat_template=TEMPLATE if chat else None,
    )
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=CONTEXT,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # an end-of-sequence logit of 0 is never the greedy choice here
        model.lm_head.weight[fast.eos_token_id] = 0
    model.to(getattr(torch, dtype)).save_pretrained(folder)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hf")


@pytest.fixture(scope="module")
def registered(root: Path) -> tuple[Path, dict[str, object]]:
    folder = root / "tiny-llama"
    build_tiny_llama(folder)
    data_dir = root / "data"
    added = subprocess.run(
        [
            sys.executable, "-m", "aimaas", "models", "add", MODEL, "--hf-dir", str(folder),
            "--context-length", str(CONTEXT), "--parallel", "4", "--data-dir", str(data_dir),
            "--json",
        ],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return data_dir, json.loads(added.stdout)


@pytest.fixture(scope="module")
def server(registered: tuple[Path, dict[str, object]]) -> Iterator[LiveServer]:
    with start_server(registered[0], env={"AIMAAS_ENGINE__DEFAULT_MODELS": "false"}) as server:
        yield server


@pytest.fixture(scope="module")
def client(server: LiveServer) -> openai.OpenAI:
    return server.openai()


def _complete(client: openai.OpenAI, prompt: str, max_tokens: int = 16, **extra: object) -> str:
    response = client.completions.create(
        model=MODEL, prompt=prompt, max_tokens=max_tokens, temperature=0, **extra
    )
    return response.choices[0].text


def _metric(server: LiveServer, prefix: str) -> float:
    with server.http() as http:
        text = http.get("/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def test_a_causal_lm_folder_registers_for_chat_and_completions(
    registered: tuple[Path, dict[str, object]], client: openai.OpenAI
) -> None:
    details = registered[1]
    assert details["format"] == "transformers"
    assert sorted(details["capabilities"]) == ["chat", "completions"]  # type: ignore[call-overload]
    assert MODEL in {model.id for model in client.models.list()}


def test_chat_streams_what_it_answers(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "tell me a long story about a fox"}]
    response = client.chat.completions.create(
        model=MODEL,
        messages=messages,
        max_tokens=12,
        temperature=0,  # type: ignore[arg-type]
    )
    choice = response.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason == "length"
    assert response.usage is not None and response.usage.completion_tokens == 12
    assert response.usage.prompt_tokens > 0

    pieces, usage, finish, roles = [], None, None, set()
    for chunk in client.chat.completions.create(
        model=MODEL,
        messages=messages,  # type: ignore[arg-type]
        max_tokens=12,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    ):
        usage = chunk.usage or usage
        for part in chunk.choices:
            pieces.append(part.delta.content or "")
            roles.add(part.delta.role)
            finish = part.finish_reason or finish
    assert "".join(pieces) == choice.message.content
    assert finish == "length" and "assistant" in roles
    assert usage is not None and usage.completion_tokens == 12
    assert usage.prompt_tokens == response.usage.prompt_tokens


def test_completion_streams_what_it_answers(client: openai.OpenAI) -> None:
    response = client.completions.create(
        model=MODEL, prompt="the quick brown fox", max_tokens=10, temperature=0
    )
    text = response.choices[0].text
    assert text and response.choices[0].finish_reason == "length"
    assert response.usage is not None and response.usage.completion_tokens == 10
    streamed = "".join(
        chunk.choices[0].text
        for chunk in client.completions.create(
            model=MODEL, prompt="the quick brown fox", max_tokens=10, temperature=0, stream=True
        )
        if chunk.choices
    )
    assert streamed == text


def test_sampling_parameters_are_taken(client: openai.OpenAI) -> None:
    response = client.completions.create(
        model=MODEL,
        prompt="hello world",
        max_tokens=8,
        temperature=1.2,
        top_p=0.9,
        extra_body={"top_k": 20},
    )
    assert response.usage is not None and response.usage.completion_tokens == 8


def test_greedy_outputs_are_the_same_alone_and_batched(client: openai.OpenAI) -> None:
    prompts = [f"{WORDS[i]} {WORDS[i + 5]} story number {i}" for i in range(4)]
    solo = [_complete(client, prompt) for prompt in prompts]
    batched = [""] * len(prompts)

    def worker(i: int) -> None:
        batched[i] = _complete(client, prompts[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert batched == solo
    assert len(set(solo)) > 1  # the prompts lead somewhere different


def test_stop_string_ends_generation_without_it(client: openai.OpenAI) -> None:
    prompt = "seven green clouds"
    full = _complete(client, prompt, max_tokens=24)
    start = next(i for i in range(3, len(full) - 3) if full.find(full[i : i + 3]) == i)
    stop = full[start : start + 3]
    response = client.completions.create(
        model=MODEL, prompt=prompt, max_tokens=24, temperature=0, stop=[stop, "never seen"]
    )
    choice = response.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.text == full[:start] and stop not in choice.text
    streamed = [
        chunk.choices[0]
        for chunk in client.completions.create(
            model=MODEL, prompt=prompt, max_tokens=24, temperature=0, stop=stop, stream=True
        )
        if chunk.choices
    ]
    assert "".join(part.text for part in streamed) == full[:start]
    assert streamed[-1].finish_reason == "stop"


def test_too_long_prompt_is_400_naming_the_limit(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=MODEL, prompt="river stone " * CONTEXT, max_tokens=4)
    assert str(CONTEXT) in str(caught.value)
    with pytest.raises(openai.BadRequestError) as too_many:
        client.completions.create(model=MODEL, prompt="hi", max_tokens=CONTEXT * 10)
    assert "max_tokens" in str(too_many.value)


@pytest.mark.parametrize(
    ("patch", "param"),
    [
        ({"logit_bias": {"5": 10}}, "logit_bias"),
        ({"seed": 7}, "seed"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"min_p": 0.1}, "min_p"),
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
    ],
)
def test_unsupported_parameters_are_400_naming_them(
    server: LiveServer, patch: dict[str, object], param: str
) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    with server.http() as http:
        response = http.post("/v1/chat/completions", json={**body, **patch})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_disconnect_mid_stream_cancels_the_sequence(server: LiveServer) -> None:
    running = f'aimaas_llm_running_sequences{{model="{MODEL}"}}'
    aborted = (
        'aimaas_llm_requests_total{endpoint="completions",finish_reason="aborted",'
        f'model="{MODEL}"}}'
    )
    before = _metric(server, aborted)
    body = {"model": MODEL, "prompt": "tell me a long story", "max_tokens": CONTEXT - 64}
    with (
        server.http() as http,
        http.stream("POST", "/v1/completions", json={**body, "stream": True}) as stream,
    ):
        lines = stream.iter_lines()
        received = [next(lines) for _ in range(6)]
        assert any(line.startswith("data: {") for line in received)
        assert _metric(server, running) == 1.0
    # The slot is freed first, then the request is counted, on the way out of the same task:
    # a scrape may come between the two.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _metric(server, running) == 0.0 and _metric(server, aborted) == before + 1:
            break
        time.sleep(0.05)
    assert _metric(server, running) == 0.0
    assert _metric(server, aborted) == before + 1


def test_a_bfloat16_base_model_serves_completions_only(
    root: Path, server: LiveServer, client: openai.OpenAI
) -> None:
    """Saved in bfloat16 (served so on CPUs with AVX512_BF16 or AMX) and without a chat
    template: completions only."""
    folder = root / "tiny-llama-bf16"
    build_tiny_llama(folder, dtype="bfloat16", chat=False)
    with server.http() as http:
        added = http.post(
            "/v1/admin/models",
            json={"name": "tiny-base", "hf_dir": str(folder), "context_length": 128},
        )
    assert added.status_code in (200, 201), added.text
    assert added.json()["format"] == "transformers"
    assert added.json()["capabilities"] == ["completions"]
    response = client.completions.create(
        model="tiny-base", prompt="hello world", max_tokens=6, temperature=0
    )
    assert response.usage is not None and response.usage.completion_tokens == 6
    stream = client.completions.create(
        model="tiny-base", prompt="hello world", max_tokens=6, temperature=0, stream=True
    )
    assert "".join(c.choices[0].text for c in stream if c.choices) == response.choices[0].text
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="tiny-base", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
    assert "/v1/completions" in str(caught.value)
