"""QDC embeddings on Ray: an :class:`~proceval.embeddings.Encoder` whose batches are split over Ray actors.

Embedding is the slow part of a large profile. The :class:`~proceval.embeddings.Embedder` stays in charge of
the cache (it asks the encoder only for texts not cached, batch by batch, and stores each batch as it comes
back), so a profile stopped half way embeds only the rest when run again, with or without Ray. Each actor
loads the sentence-embedding model once; a batch is cut into one contiguous shard per actor and put back
together in order. An actor whose process dies is restarted by Ray and its shard embedded again.

    from proceval.analysis.qdc.compare import qdc
    from proceval.analysis.qdc.ray import RayEncoder
    from proceval.embeddings import Embedder, EmbeddingCache

    with RayEncoder(actors=2) as encoder:
        qdc(["data/tom"], out="reports/qdc", embedder=Embedder(encoder, cache=EmbeddingCache(), batch_size=1024))
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from proceval.embeddings import DEFAULT_MODEL, MiniLMEncoder
from proceval.run.ray import check_resources, connect


class _Shard:
    """One actor: the embedding model, loaded once."""

    def __init__(self, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)  # as many threads as CPUs Ray gave the actor
        self.encoder = MiniLMEncoder()

    def dim(self) -> int:
        return self.encoder.dim

    def encode(self, texts: list[str]) -> NDArray[np.float32]:
        return self.encoder.encode(texts)


class RayEncoder:
    """all-MiniLM-L6-v2 on ``actors`` Ray actors of ``num_cpus``/``num_gpus`` each (``address`` as for
    :class:`proceval.run.ray.RayExecutor`). Use it in a ``with`` block, or call :meth:`close`."""

    name = DEFAULT_MODEL

    def __init__(self, *, address: str | None = None, actors: int = 2, num_cpus: float = 1.0,
                 num_gpus: float = 0.0, max_restarts: int = 3) -> None:
        self._started_here = connect(address)
        import ray

        check_resources(num_cpus, num_gpus)
        shard = ray.remote(_Shard).options(  # type: ignore[attr-defined]
            num_cpus=num_cpus, num_gpus=num_gpus, max_restarts=max_restarts, max_task_retries=max_restarts)
        self._actors: list[Any] = [shard.remote(max(1, int(num_cpus))) for _ in range(actors)]
        self.dim = int(ray.get(self._actors[0].dim.remote()))

    def encode(self, texts: list[str]) -> NDArray[np.float32]:
        import ray

        n = len(self._actors)
        bounds = [len(texts) * k // n for k in range(n + 1)]
        shards = [self._actors[k].encode.remote(texts[bounds[k]:bounds[k + 1]])
                  for k in range(n) if bounds[k] < bounds[k + 1]]
        if not shards:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(ray.get(shards)).astype(np.float32, copy=False)

    def close(self) -> None:
        import ray

        for actor in self._actors:
            ray.kill(actor)
        self._actors = []
        if self._started_here:
            ray.shutdown()

    def __enter__(self) -> RayEncoder:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> Any:
        self.close()
