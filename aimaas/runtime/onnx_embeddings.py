"""A sentence-transformers model on ONNX Runtime: its transformer, mean pooling and (where
the model has one) Normalize module exported once to an ONNX graph with torch.onnx, fused by
onnxruntime's BERT optimizer (fp32), and cached under ``cache_dir()/onnx-embeddings``.

The cache file is named by a SHA-256 of everything the graph is built from (the weights and
the config files, this recipe, the onnxruntime version), written to a temporary file and
renamed into place, so two processes starting at once are safe (a lock makes the second wait
for the first's export instead of repeating it). A graph is kept only if it agrees with the
PyTorch model on a few probe sentences; their vectors are stored in the graph's metadata,
and a cached file that no longer loads or no longer reproduces them is built again.

Only pipelines this reproduces exactly are exported: Transformer, mean Pooling, optional
Normalize, no prompts, no lower-casing; anything else raises ``ExportUnsupported`` and the
caller runs the model on PyTorch.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import inspect
import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]

from aimaas.config import cache_dir

log = logging.getLogger("aimaas.models")

RECIPE = "st-mean-pool-v1"  # bump when the exported graph changes
OPSET = 17
# Sentences whose vectors check a new export against PyTorch, and a cached file at load.
PROBES = (
    "The quick brown fox jumps over the lazy dog.",
    "ok",
    "Ein kleiner Hund läuft über die Wiese, während die Sonne langsam untergeht.",
    "東京は日本の首都です。",
    " ".join(["a longer probe sentence that pads the others in its batch"] * 4),
)
EXPORT_TOLERANCE = 1e-4  # most 1 - cosine between the export and PyTorch on the probes
CACHED_TOLERANCE = 1e-4  # most absolute difference from the stored probe vectors
# A batch is sorted by length and split so that no sub-batch pads to more tokens than this.
SUB_BATCH_TOKENS = 1024


class ExportUnsupported(Exception):
    """The model's pipeline is not one this module reproduces exactly."""


@dataclass(frozen=True)
class Pipeline:
    """What ``SentenceTransformer.encode`` does with the folder's model, as far as it matters."""

    folder: Path  # the sentence-transformers model
    transformer: Path  # the folder of its Hugging Face model and tokenizer
    max_seq_length: int
    normalize: bool


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ExportUnsupported(f"{path.name} is not a JSON object")
    return data


def read_pipeline(folder: Path) -> Pipeline:
    """The folder's modules.json, checked to be Transformer, mean Pooling, maybe Normalize."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        raise ExportUnsupported("no modules.json")
    modules = json.loads(modules_file.read_text())
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ExportUnsupported(f"modules {kinds}, not Transformer, Pooling[, Normalize]")
    transformer = folder / str(modules[0].get("path", ""))

    st_config = _read_json(transformer / "sentence_bert_config.json")
    extra = {k: v for k, v in st_config.items() if k != "max_seq_length" and v}
    if extra:  # do_lower_case, processing_kwargs, modality_config, a task, ...
        raise ExportUnsupported(f"sentence_bert_config.json sets {sorted(extra)}")
    model_config = _read_json(transformer / "config.json")
    limit = int(
        st_config.get("max_seq_length")
        or _read_json(transformer / "tokenizer_config.json").get("model_max_length")
        or 512
    )
    limit = min(limit, int(model_config.get("max_position_embeddings") or limit))

    pooling = _read_json(folder / str(modules[1].get("path", "")) / "config.json")
    modes = pooling.get("pooling_mode")
    if modes is None:
        modes = [
            k[len("pooling_mode_") :]
            for k, v in pooling.items()
            if k.startswith("pooling_mode_") and v
        ]
    modes = [modes] if isinstance(modes, str) else list(modes)
    if modes not in (["mean"], ["mean_tokens"]) or pooling.get("include_prompt") is False:
        raise ExportUnsupported(f"pooling {modes}, not mean")

    prompts = _read_json(folder / "config_sentence_transformers.json")
    if prompts.get("default_prompt_name"):
        raise ExportUnsupported("the model prepends a default prompt")
    return Pipeline(folder, transformer, limit, normalize=len(kinds) == 3)


def model_key(folder: Path) -> str:
    """SHA-256 of what the graph is built from: weights, configs, recipe, onnxruntime."""
    digest = hashlib.sha256(f"{RECIPE} onnxruntime {ort.__version__}\n".encode())
    names = {"config.json", "modules.json", "sentence_bert_config.json"}
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and (p.suffix in (".safetensors", ".bin") or p.name in names)
    )
    if not any(p.suffix in (".safetensors", ".bin") for p in files):
        raise ExportUnsupported("no weights (*.safetensors or *.bin) in the folder")
    for path in files:
        digest.update(f"{path.relative_to(folder).as_posix()}\n".encode())
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def onnx_cache_dir() -> Path:
    return cache_dir() / "onnx-embeddings"


class Tokenized:
    """Token ids of a list of texts, truncated to the model's limit but not padded."""

    def __init__(self, tokenizer: Any, texts: list[str], limit: int) -> None:
        with_types = "token_type_ids" in tokenizer.model_input_names
        encoded = tokenizer(
            texts,
            add_special_tokens=True,
            truncation=True,
            max_length=limit,
            return_attention_mask=False,
            return_token_type_ids=with_types,
        )
        self.ids: list[list[int]] = encoded["input_ids"]
        self.types: list[list[int]] | None = encoded["token_type_ids"] if with_types else None
        self.pad_id = int(tokenizer.pad_token_id or 0)

    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.ids]

    def batch(self, rows: list[int], names: list[str]) -> dict[str, np.ndarray]:
        """The graph inputs ``names`` for ``rows``, padded to their longest member."""
        width = max(len(self.ids[r]) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        types = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            n = len(self.ids[r])
            ids[i, :n] = self.ids[r]
            mask[i, :n] = 1
            if self.types is not None:
                types[i, :n] = self.types[r]
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: feeds[name] for name in names}


def sub_batches(lengths: list[int], budget: int) -> list[list[int]]:
    """Row indices sorted by length and cut so that no group pads past ``budget`` tokens."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    groups: list[list[int]] = []
    for row in order:
        if groups and (len(groups[-1]) + 1) * lengths[row] <= budget:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing)."""
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class OnnxSentenceEncoder:
    """Encodes texts as ``SentenceTransformer.encode(normalize_embeddings=False)`` would, on
    an onnxruntime session over the cached graph (built first if missing or broken)."""

    def __init__(self, folder: Path, *, threads: int = 0, cache: Path | None = None) -> None:
        from transformers import AutoTokenizer

        self.pipeline = read_pipeline(folder)
        self.tokenizer = AutoTokenizer.from_pretrained(
            str(self.pipeline.transformer), local_files_only=True
        )
        if not getattr(self.tokenizer, "is_fast", False):
            raise ExportUnsupported("the model has no fast tokenizer")
        self.threads = threads or os.cpu_count() or 1
        cache = cache or onnx_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        self.path = cache / f"{model_key(folder)}.onnx"
        self.built = False  # whether this construction exported the graph
        session = self._open_cached()
        if session is None:
            with _locked(self.path.with_suffix(".lock")):
                session = self._open_cached()  # another process may have built it meanwhile
                if session is None:
                    self._build()
                    session = self._open_cached()
        if session is None:
            raise RuntimeError("the exported graph does not reproduce its own probe vectors")
        self.session = session
        self.dimensions = int(session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str]) -> list[tuple[np.ndarray, int]]:
        """Each text's vector (float32) and its token count (special tokens included,
        truncated to the model's limit), in order."""
        return self._encode(self.session, texts)

    def _encode(self, session: Any, texts: list[str]) -> list[tuple[np.ndarray, int]]:
        names = [i.name for i in session.get_inputs()]
        tokens = Tokenized(self.tokenizer, texts, self.pipeline.max_seq_length)
        lengths = tokens.lengths()
        vectors: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(texts)
        for rows in sub_batches(lengths, SUB_BATCH_TOKENS):
            out = session.run(None, tokens.batch(rows, names))[0]
            for i, row in enumerate(rows):
                vectors[row] = out[i]
        return list(zip(vectors, lengths, strict=True))

    def _session(self, model: str | bytes) -> Any:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def _probe(self, session: Any) -> np.ndarray:
        return np.stack([vector for vector, _ in self._encode(session, list(PROBES))])

    def _open_cached(self) -> Any | None:
        """A session on the cached graph, if it loads and reproduces its probe vectors."""
        if not self.path.is_file():
            return None
        try:
            session = self._session(str(self.path))
            stored = session.get_modelmeta().custom_metadata_map
            if stored.get("aimaas.recipe") != RECIPE:
                raise ValueError(f"recipe {stored.get('aimaas.recipe')!r}, not {RECIPE!r}")
            expected = np.asarray(json.loads(stored["aimaas.probes"]), dtype=np.float32)
            got = self._probe(session)
            if got.shape != expected.shape or np.abs(got - expected).max() > CACHED_TOLERANCE:
                raise ValueError("its probe vectors differ from those stored with it")
        except Exception as exc:  # a truncated or corrupt file, another recipe, ...
            log.warning("Rebuilding the cached ONNX graph %s: %s", self.path, exc)
            with contextlib.suppress(OSError):
                self.path.unlink()
            return None
        return session

    def _build(self) -> None:
        """Export, optimize, check against sentence-transformers, rename into place."""
        import onnx
        import torch

        started = time.monotonic()
        expected = _reference(self.pipeline, list(PROBES))
        module, names = _pooled_module(self.pipeline, self.tokenizer)
        tokens = Tokenized(self.tokenizer, list(PROBES), self.pipeline.max_seq_length)
        feeds = tokens.batch(list(range(len(PROBES))), names)
        fd, raw_name = tempfile.mkstemp(suffix=".export.onnx", dir=self.path.parent)
        os.close(fd)
        raw = Path(raw_name)
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer and deprecation warnings
                torch.onnx.export(
                    module,
                    tuple(torch.from_numpy(feeds[n]) for n in names),
                    str(raw),
                    input_names=names,
                    output_names=["sentence_embedding"],
                    dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names}
                    | {"sentence_embedding": {0: "batch"}},
                    opset_version=OPSET,
                    dynamo=False,  # the TorchScript exporter's graph is the one the fusions know
                )
            del module
            model, how = _optimized(raw, self.pipeline), "fused"
            got = self._check(model, expected)
            if got is None:  # the fusions changed the result: keep the plain export
                model, how = onnx.load(str(raw)), "plain"
                got = self._check(model, expected)
            if got is None:
                raise RuntimeError("the exported graph does not match sentence-transformers")
        finally:
            raw.unlink(missing_ok=True)

        model.metadata_props.add(key="aimaas.recipe", value=RECIPE)
        model.metadata_props.add(key="aimaas.probes", value=json.dumps(got.tolist()))
        fd, tmp_name = tempfile.mkstemp(suffix=".tmp", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide it from other users of the cache
            with os.fdopen(fd, "wb") as fh:
                fh.write(model.SerializeToString())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        self.built = True
        log.info(
            "Exported %s to ONNX (%s) in %.1f s: %s",
            self.pipeline.folder,
            how,
            time.monotonic() - started,
            self.path,
        )

    def _check(self, model: Any, expected: np.ndarray) -> np.ndarray | None:
        """The probes' vectors on ``model`` if they agree with ``expected``, else None."""
        got = self._probe(self._session(model.SerializeToString()))
        worst = cosine_gap(got, expected)
        if worst > EXPORT_TOLERANCE:
            log.warning("The ONNX graph differs from PyTorch by 1 - cosine %.2g", worst)
            return None
        return got


def _optimized(raw: Path, pipeline: Pipeline) -> Any:
    """onnxruntime's BERT fusions (attention, layer norms, GELU), fp32."""
    from onnxruntime.transformers.optimizer import optimize_model  # type: ignore[import-untyped]

    config = _read_json(pipeline.transformer / "config.json")
    optimized = optimize_model(
        str(raw),
        model_type="bert",
        num_heads=int(config.get("num_attention_heads") or 0),
        hidden_size=int(config.get("hidden_size") or 0),
    )
    return optimized.model


def _pooled_module(pipeline: Pipeline, tokenizer: Any) -> tuple[Any, list[str]]:
    """The transformer, mean pooling and (where the model has it) normalization as one
    module (eager attention, the pattern the fusions know; fp32), and its input names."""
    import torch
    from transformers import AutoModel

    hf = AutoModel.from_pretrained(
        str(pipeline.transformer),
        local_files_only=True,
        attn_implementation="eager",
        dtype=torch.float32,
    ).eval()
    accepts_types = "token_type_ids" in inspect.signature(hf.forward).parameters
    with_types = accepts_types and "token_type_ids" in tokenizer.model_input_names

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = hf

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor | None = None,
        ) -> torch.Tensor:
            extra = {"token_type_ids": token_type_ids} if with_types else {}
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, **extra
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled: torch.Tensor = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            if pipeline.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=-1)
            return pooled

    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if with_types else [])
    return Pooled(), names


def cosine_gap(got: np.ndarray, expected: np.ndarray) -> float:
    """The most 1 - cosine between rows of ``got`` and the same rows of ``expected``."""
    cosine = (got * expected).sum(1) / (
        np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1) + 1e-12
    )
    return float(1 - cosine.min())


def _reference(pipeline: Pipeline, texts: list[str]) -> np.ndarray:
    """What ``SentenceTransformer.encode`` gives for ``texts``: the export must match it."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(pipeline.folder), device="cpu", local_files_only=True)
    vectors = model.encode(
        texts,
        batch_size=len(texts),
        convert_to_numpy=True,
        normalize_embeddings=False,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)
