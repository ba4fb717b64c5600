"""Prometheus metrics, kept in a registry per app so that two apps never share counters."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "aimaas_http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "aimaas_http_request_duration_seconds",
            "Time from request start to the end of the response body.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)


TOKEN_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    2.5,
)
SlotCounts = Callable[[], dict[str, tuple[int, int]]]


class LLMMetrics:
    """Per model: time to first token, inter-token latency, queue time, tokens, requests."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ttft = Histogram(
            "aimaas_llm_time_to_first_token_seconds",
            "From request arrival to the first generated token.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.itl = Histogram(
            "aimaas_llm_inter_token_latency_seconds",
            "Time between consecutive streamed tokens.",
            ["model"],
            buckets=TOKEN_LATENCY_BUCKETS,
            registry=registry,
        )
        self.queue_time = Histogram(
            "aimaas_llm_queue_time_seconds",
            "Time a request waited for a free sequence slot.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.e2e = Histogram(
            "aimaas_llm_request_duration_seconds",
            "Whole generation time of a request.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.prompt_tokens = Counter(
            "aimaas_llm_prompt_tokens_total",
            "Prompt tokens processed.",
            ["model"],
            registry=registry,
        )
        self.generated_tokens = Counter(
            "aimaas_llm_generation_tokens_total",
            "Tokens generated.",
            ["model"],
            registry=registry,
        )
        self.requests = Counter(
            "aimaas_llm_requests_total",
            "Generation requests by how they ended.",
            ["model", "endpoint", "finish_reason"],
            registry=registry,
        )


class SlotCollector(Collector):
    """Running and waiting sequences per loaded model, read at scrape time."""

    def __init__(self, counts: SlotCounts) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        running = GaugeMetricFamily(
            "aimaas_llm_running_sequences", "Sequences being decoded.", labels=["model"]
        )
        waiting = GaugeMetricFamily(
            "aimaas_llm_waiting_requests", "Requests waiting for a slot.", labels=["model"]
        )
        for model, (run, wait) in sorted(self.counts().items()):
            running.add_metric([model], run)
            waiting.add_metric([model], wait)
        yield running
        yield waiting


BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class PredictMetrics:
    """Per trained model: rows predicted, rows per forward pass, time per forward pass."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.rows = Counter(
            "aimaas_predict_rows_total",
            "Rows (instances) predicted, by model and endpoint (infer or predict).",
            ["model", "endpoint"],
            registry=registry,
        )
        self.batch_rows = Histogram(
            "aimaas_predict_batch_rows",
            "Rows in one forward pass of a trained model (dynamic batching).",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "aimaas_predict_batch_seconds",
            "Time of one forward pass of a trained model.",
            ["model"],
            buckets=TOKEN_LATENCY_BUCKETS,
            registry=registry,
        )


class EngineMetrics:
    """Model loads that fell back from the native llama-server to xllamacpp, and why."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.fallbacks = Counter(
            "aimaas_engine_fallbacks_total",
            "GGUF model loads served on xllamacpp because llama-server failed its check "
            "(check_failed) or a child died (died_starting, died_serving).",
            ["model", "reason"],
            registry=registry,
        )


class Metrics:
    """Every metric of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http = HttpMetrics(self.registry)
        self.llm = LLMMetrics(self.registry)
        self.predict = PredictMetrics(self.registry)
        self.engine = EngineMetrics(self.registry)
        self._slots: SlotCollector | None = None

    def watch_slots(self, counts: SlotCounts) -> None:
        """Report these slot counts (replacing any earlier source: an app's lifespan may
        run more than once, e.g. under a test client)."""
        if self._slots is not None:
            self.registry.unregister(self._slots)
        self._slots = SlotCollector(counts)
        self.registry.register(self._slots)

    def render(self) -> bytes:
        return generate_latest(self.registry)
