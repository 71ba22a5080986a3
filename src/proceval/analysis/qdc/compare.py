"""``proceval qdc`` as a library call: profile several datasets side by side and write the report."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from proceval.analysis.qdc.profile import Source, load_source, profile
from proceval.analysis.qdc.report import write_report
from proceval.embeddings import Embedder, EmbeddingCache
from proceval.errors import AnalysisError
from proceval.ui import progress_bar


def match_references(sources: Sequence[Source], runs: Sequence[str | os.PathLike[str]]) -> dict[int, Path]:
    """Which run belongs to which dataset: the one whose items it answered (the most of them)."""
    from proceval.run.io import RESPONSES_FILE, load_run

    matched: dict[int, Path] = {}
    for run_path in runs:
        run = load_run(run_path)
        answered = {r["item_id"] for r in run.responses}
        overlaps = [len(answered & {item.id for item in s.items}) for s in sources]
        best = max(range(len(sources)), key=lambda k: overlaps[k]) if sources else None
        if best is None or overlaps[best] == 0:
            raise AnalysisError(
                "this reference run answers none of the given datasets' items",
                file=Path(run_path) / RESPONSES_FILE,
                hint="pass a run made on one of the datasets being profiled",
            )
        if best in matched:
            raise AnalysisError(
                f"two reference runs for dataset {sources[best].name}: {matched[best]} and {run_path}",
                hint="give one reference run per dataset",
            )
        matched[best] = Path(run_path)
    return matched


def qdc(
    paths: Sequence[str | os.PathLike[str]],
    *,
    out: str | os.PathLike[str] | None = None,
    embeddings: bool = True,
    embedder: Embedder | None = None,
    cache: str | os.PathLike[str] | None = None,
    references: Sequence[str | os.PathLike[str]] = (),
    judge: str | None = None,
    judge_limit: int | None = None,
    self_bleu_sample: int = 1000,
    seed: int = 0,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Profile each dataset (or scenarios file) in ``paths``; with ``out``, write summary.json + report.html.

    ``embeddings=False`` skips the embedding model (no Vendi or embedding distance); ``cache`` is the
    embedding cache file (default :func:`proceval.embeddings.default_cache_path`); ``references`` are
    run directories of reference models, each matched to the dataset whose items it answered.
    """
    if not paths:
        raise AnalysisError("no datasets given", hint="proceval qdc DATASET [DATASET ...] --out DIR")
    sources = [load_source(p) for p in paths]
    names = [s.name for s in sources]
    for k, s in enumerate(sources):  # the same directory name twice: label by position
        if names.count(s.name) > 1:
            s.name = f"{s.name} ({k + 1})"
    refs = match_references(sources, references)
    if embeddings and embedder is None:
        embedder = Embedder(cache=EmbeddingCache(cache))
    profiles = []
    with progress_bar("profiling datasets", total=len(sources), unit="datasets", enabled=progress) as bar:
        for k, source in enumerate(sources):
            profiles.append(profile(
                source,
                embedder=embedder if embeddings else None,
                reference=refs.get(k),
                judge=judge,
                judge_limit=judge_limit,
                self_bleu_sample=self_bleu_sample,
                seed=seed,
                progress=bar,
            ))
            bar.advance()
    if embedder is not None and embeddings:
        for p in profiles:
            p.setdefault("embeddings", {"model": embedder.model_name, "cache": str(embedder.cache.path)})
    if out is not None:
        write_report(profiles, out)
    return profiles


def load_summary(out: str | os.PathLike[str]) -> dict[str, Any]:
    """Read back a report's ``summary.json``."""
    path = Path(out) / "summary.json"
    if not path.is_file():
        raise AnalysisError("no summary.json here", file=path, hint="run `proceval qdc ... --out DIR` first")
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
