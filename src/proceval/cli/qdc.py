"""`proceval qdc`: quality, diversity and complexity of datasets side by side."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from proceval.analysis.qdc.compare import qdc
from proceval.analysis.qdc.report import LABELS
from proceval.cli.executor import add_executor_arguments, ray_settings
from proceval.embeddings import Embedder, EmbeddingCache


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "qdc",
        help="quality, diversity and complexity profile of generated datasets, side by side",
        description="Profile each DATASET (a `proceval generate` directory or a JSONL file of scenarios) and "
        "write summary.json and a self-contained report.html to --out.",
    )
    parser.add_argument("datasets", nargs="+", type=Path, metavar="DATASET")
    parser.add_argument("--out", type=Path, required=True, help="report directory to write")
    parser.add_argument("--reference", action="append", default=[], type=Path, metavar="RUN",
                        help="a `proceval run` directory of a reference model on one of the datasets "
                        "(answerability and difficulty; repeatable, matched to datasets by item ids)")
    parser.add_argument("--judge", metavar="MODEL", help="ask MODEL the template's yes/no rubric per scenario")
    parser.add_argument("--judge-limit", type=int, metavar="N", help="judge only the first N scenarios")
    parser.add_argument("--no-embeddings", action="store_true",
                        help="skip the sentence-embedding model (no Vendi score or embedding distance)")
    parser.add_argument("--cache", type=Path, metavar="FILE",
                        help="embedding cache (default $PROCEVAL_CACHE_DIR/embeddings.sqlite)")
    parser.add_argument("--self-bleu-sample", type=int, default=1000, metavar="N",
                        help="texts per self-BLEU sample (default 1000; sets of different size stay comparable)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the self-BLEU sample (default 0)")
    add_executor_arguments(parser, what="texts to embed")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        embedder = None
        if (ray := ray_settings(args)) is not None and not args.no_embeddings:
            from proceval.analysis.qdc.ray import RayEncoder

            encoder = stack.enter_context(RayEncoder(**ray))
            # large batches: every actor gets a shard of each, and each batch is cached when it is done
            embedder = Embedder(encoder, cache=EmbeddingCache(args.cache), batch_size=2048)
        profiles = qdc(
            args.datasets,
            out=args.out,
            embeddings=not args.no_embeddings,
            embedder=embedder,
            cache=args.cache,
            references=args.reference,
            judge=args.judge,
            judge_limit=args.judge_limit,
            self_bleu_sample=args.self_bleu_sample,
            seed=args.seed,
        )
    console = Console()
    keys = ["validity", "judge_pass", "reference_accuracy", "distinct_2", "self_bleu", "vendi", "tokens_mean"]
    table = Table("dataset", "items", *[LABELS[k] for k in keys])
    for p in profiles:
        cells = [("–" if p["headline"][k] is None else f"{p['headline'][k]:.3f}") for k in keys]
        table.add_row(escape(p["name"]), str(p["n_items"]), *cells)
    console.print(table)
    for p in profiles:
        for note in p["notes"]:
            console.print(f"[yellow]{escape(p['name'])}[/]: {escape(note)}")
    console.print(f"[green]wrote[/] {escape(str(args.out / 'report.html'))} and summary.json")
    return 0
