"""`proceval generate`: fill a template and write a dataset directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from proceval.core.task import parse_options
from proceval.generate import generate


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "generate",
        help="fill a template (lexicon, imported rows or an LLM writer) and write its items",
        description="Fill TEMPLATE (a built-in name or a YAML file) and write items.jsonl, scenarios.jsonl "
        "and manifest.json to --out.",
    )
    parser.add_argument("template", help="built-in template or task name (see `proceval templates`) or a YAML file")
    parser.add_argument("--n", type=int, help="number of scenarios to fill (lexicon or writer)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--from", dest="from_files", action="append", type=Path, metavar="FILE",
                        help="import filled rows from FILE in the template's table layout (repeatable)")
    parser.add_argument("--writer", metavar="MODEL", help="let a model fill the template, e.g. local/smollm2-135m")
    parser.add_argument("--out", type=Path, help="dataset directory to write (default data/TEMPLATE)")
    parser.add_argument("--option", action="append", metavar="NAME=VALUE",
                        help="a Python task's config option, e.g. --option digits=4 (repeatable)")
    parser.add_argument("--strict", action="store_true", help="stop at the first unusable row instead of skipping")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = args.out or Path("data") / Path(args.template).stem
    dataset = generate(args.template, out=out, n=args.n, seed=args.seed, from_files=args.from_files,
                       writer=args.writer, strict=args.strict, force=args.force, options=parse_options(args.option))
    manifest = dataset.manifest
    console = Console()
    console.print(f"[green]wrote[/] {escape(str(out))}: {manifest.n_items} items from {manifest.n_scenarios} "
                  f"scenarios in {len(manifest.counts_per_condition)} conditions")
    if manifest.recovered:
        console.print(f"[yellow]recovered {len(manifest.recovered)} malformed row(s)[/]:")
        for row in manifest.recovered[:10]:
            console.print(f"  {escape(str(row.file))}:{row.line}: {escape(row.reason)}")
    if manifest.skipped:
        console.print(f"[yellow]skipped {len(manifest.skipped)} row(s)[/] (listed in manifest.json):")
        for row in manifest.skipped[:10]:
            where = f"{row.file}:{row.line}: " if row.file else ""
            console.print(f"  {escape(where + row.reason)}")
        if len(manifest.skipped) > 10:
            console.print(f"  … and {len(manifest.skipped) - 10} more")
    return 0
