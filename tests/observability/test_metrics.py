"""Prometheus metrics (aimaas/observability/metrics.py): one registry per app, what each
family counts, slot gauges read at scrape time, and the text rendering."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aimaas.observability.metrics import LATENCY_BUCKETS, Metrics


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_two_apps_never_share_counters() -> None:
    first, second = Metrics(), Metrics()
    first.http.observe(method="GET", route="/v1/models", status=200, seconds=0.02)
    labels = (("method", "GET"), ("route", "/v1/models"), ("status", "200"))
    assert _samples(first)[("aimaas_http_requests_total", labels)] == 1.0
    assert ("aimaas_http_requests_total", labels) not in _samples(second)


def test_http_observe_counts_and_times_by_method_route_and_status() -> None:
    metrics = Metrics()
    for seconds in (0.004, 0.2, 500.0):
        metrics.http.observe(method="POST", route="/v1/chat", status=429, seconds=seconds)
    labels = (("method", "POST"), ("route", "/v1/chat"), ("status", "429"))
    samples = _samples(metrics)
    assert samples[("aimaas_http_requests_total", labels)] == 3.0
    assert samples[("aimaas_http_request_duration_seconds_count", labels)] == 3.0
    assert samples[("aimaas_http_request_duration_seconds_sum", labels)] == pytest.approx(
        500.204, abs=1e-9
    )
    bucket = (("le", "0.005"), *labels)
    assert samples[("aimaas_http_request_duration_seconds_bucket", tuple(sorted(bucket)))] == 1.0
    top = tuple(sorted((("le", str(float(LATENCY_BUCKETS[-1]))), *labels)))
    assert (
        samples[("aimaas_http_request_duration_seconds_bucket", top)] == 2.0
    )  # 500 s is past the last bucket


def test_llm_predict_and_engine_families_are_registered() -> None:
    metrics = Metrics()
    metrics.llm.requests.labels("m", "/v1/chat/completions", "stop").inc()
    metrics.llm.generated_tokens.labels("m").inc(7)
    metrics.predict.rows.labels("iris", "predict").inc(3)
    metrics.predict.batch_rows.labels("iris").observe(3)
    metrics.engine.fallbacks.labels("m", "check_failed").inc()
    samples = _samples(metrics)
    assert samples[("aimaas_llm_generation_tokens_total", (("model", "m"),))] == 7.0
    assert (
        samples[("aimaas_predict_rows_total", (("endpoint", "predict"), ("model", "iris")))] == 3.0
    )
    assert (
        samples[("aimaas_engine_fallbacks_total", (("model", "m"), ("reason", "check_failed")))]
        == 1.0
    )
    text = metrics.render().decode()
    for name in (
        "aimaas_llm_time_to_first_token_seconds",
        "aimaas_llm_inter_token_latency_seconds",
        "aimaas_llm_queue_time_seconds",
        "aimaas_llm_request_duration_seconds",
        "aimaas_llm_prompt_tokens_total",
        "aimaas_predict_batch_seconds",
    ):
        assert f"# TYPE {name}" in text, name


def test_slot_gauges_are_read_at_scrape_time_and_replaced_by_a_new_source() -> None:
    metrics = Metrics()
    counts = {"b": (1, 0), "a": (2, 5)}
    metrics.watch_slots(lambda: counts)
    samples = _samples(metrics)
    assert samples[("aimaas_llm_running_sequences", (("model", "a"),))] == 2.0
    assert samples[("aimaas_llm_waiting_requests", (("model", "a"),))] == 5.0
    counts["a"] = (0, 0)
    assert _samples(metrics)[("aimaas_llm_running_sequences", (("model", "a"),))] == 0.0
    metrics.watch_slots(lambda: {"c": (3, 1)})  # the lifespan ran again: no duplicate error
    samples = _samples(metrics)
    assert samples[("aimaas_llm_running_sequences", (("model", "c"),))] == 3.0
    assert ("aimaas_llm_running_sequences", (("model", "a"),)) not in samples
