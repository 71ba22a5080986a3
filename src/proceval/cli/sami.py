"""``proceval sami constitutions|generate|train|evaluate``: the stages of SAMI one at a time (thin wrappers of
:mod:`proceval.train.sami`; a study file with a ``sami:`` section runs them all)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("sami", help="SAMI: train a model to follow written principles (constitutions)",
                              description="The stages of SAMI; see docs/sami.md.")
    stages = p.add_subparsers(dest="stage", metavar="STAGE", required=True)

    c = stages.add_parser("constitutions", help="validate principle pairs (or have a writer model write them)")
    c.add_argument("--principles", required=True, type=Path, help="principles YAML (docs/sami.md)")
    c.add_argument("--writer", help="model spec that writes the versions a principle lacks")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", "-o", required=True, type=Path, help="directory for constitutions.json")
    c.set_defaults(func=constitutions_command)

    g = stages.add_parser("generate", help="responses of a model under each constitution (resumable)")
    g.add_argument("--model", "-m", required=True, help="model spec, e.g. hf/smollm2-135m or local/smollm2-135m")
    g.add_argument("--constitutions", required=True, type=Path, help="output of `sami constitutions`")
    g.add_argument("--queries", default="builtin[:64]", help="builtin[A:B] or a .txt/.jsonl/.csv file")
    g.add_argument("--max-tokens", type=int, default=96)
    g.add_argument("--temperature", type=float, default=0.7)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--out", "-o", required=True, type=Path)
    g.set_defaults(func=generate_command)

    t = stages.add_parser("train", help="fine-tune on generated data with the SAMI loss (resumable)")
    t.add_argument("--model", "-m", required=True, help="hf/ spec of the model to train")
    t.add_argument("--data", required=True, type=Path, action="append", help="output of `sami generate` (repeatable)")
    t.add_argument("--lora", action="store_true", help="train a LoRA adapter (merged into OUT at the end)")
    t.add_argument("--lora-rank", type=int, default=8)
    t.add_argument("--learning-rate", type=float, help="default 2e-4 with --lora, else 1e-5")
    t.add_argument("--epochs", type=float, default=1.0)
    t.add_argument("--max-steps", type=int, default=-1)
    t.add_argument("--batch-size", type=int, default=2, help="queries per step (each C x C sequences)")
    t.add_argument("--optimizer", default="adamw_torch", help="a transformers optim name (rmsprop as in the paper)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--force", action="store_true", help="clear OUT and train afresh")
    t.add_argument("--out", "-o", required=True, type=Path)
    t.set_defaults(func=train_command)

    e = stages.add_parser("evaluate", help="trained vs base on held-out queries: MI bound, proxies, judge")
    e.add_argument("--model", "-m", required=True, help="the trained model (hf/OUT or a folder)")
    e.add_argument("--base", required=True, help="the model it was trained from")
    e.add_argument("--constitutions", required=True, type=Path)
    e.add_argument("--queries", default="builtin[96:]", help="held-out queries")
    e.add_argument("--judge", help="model spec of the judge (no win rates without one)")
    e.add_argument("--max-tokens", type=int, default=96)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--out", "-o", required=True, type=Path)
    e.set_defaults(func=evaluate_command)


def _spec(value: str) -> str:
    """A trained folder given without a provider is an hf/ model."""
    return f"hf/{value}" if Path(value).is_dir() else value


def constitutions_command(args: argparse.Namespace) -> int:
    from proceval.models import load_model
    from proceval.models.cache import CachedModel, CallCache
    from proceval.train.sami.constitutions import make_constitutions, read_principles, write_constitutions

    writer = CachedModel(load_model(args.writer), CallCache(args.out / "writer-calls.sqlite")) if args.writer \
        else None
    result = make_constitutions(read_principles(args.principles), writer=writer, seed=args.seed,
                                source=args.principles)
    path = write_constitutions(result, args.out)
    counts = result.counts
    print(f"{len(result.pairs)} principle pairs ({counts['malformed']} malformed, {counts['identical']} identical "
          f"dropped) → {len(result.constitutions)} constitutions: "
          f"{', '.join(c.label for c in result.constitutions)} → {path}")
    return 0


def generate_command(args: argparse.Namespace) -> int:
    from proceval.train.sami.constitutions import read_constitutions
    from proceval.train.sami.generate import generate_data
    from proceval.train.sami.queries import load_queries

    queries = load_queries(args.queries)
    made = generate_data(args.model, read_constitutions(args.constitutions), queries.queries, args.out,
                         seed=args.seed, max_tokens=args.max_tokens, temperature=args.temperature)
    print(f"{made['queries']} queries ({queries.skipped['empty']} empty and {queries.skipped['duplicate']} duplicate "
          f"rows skipped), {made['empty_responses']} empty responses; model calls: {made['calls']} made, "
          f"{made['cache_hits']} from the cache → {args.out}")
    return 0


def train_command(args: argparse.Namespace) -> int:
    from proceval.train.fit import describe
    from proceval.train.sami.trainer import train_sami

    manifest = train_sami(args.model, list(args.data), args.out, lora=args.lora, lora_rank=args.lora_rank,
                          learning_rate=args.learning_rate, epochs=args.epochs, max_steps=args.max_steps,
                          batch_size=args.batch_size, optimizer=args.optimizer, seed=args.seed, force=args.force)
    print(f"{describe(manifest)} → {args.out} (load it as hf/{args.out})")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    from proceval.train.sami.constitutions import read_constitutions
    from proceval.train.sami.evaluate import evaluate_sami
    from proceval.train.sami.queries import load_queries

    summary = evaluate_sami(_spec(args.model), _spec(args.base), read_constitutions(args.constitutions),
                            load_queries(args.queries).queries, args.out, judge=args.judge, seed=args.seed,
                            max_tokens=args.max_tokens)
    for label, m in summary["information"].items():
        print(f"{label}: MI lower bound {m['mi_lower_bound']['mean']:.3f} nats, "
              f"identification {m['identification']['mean']:.3f}")
    if summary["win_rates"]:
        w = summary["win_rates"]
        print(f"win rate {w['overall']['mean']:.3f} ({w['counts']['unparseable']} of {w['counts']['judged']} "
              "verdicts unparseable, counted 0.5)")
    print(f"report → {args.out / 'report.html'}")
    return 0
