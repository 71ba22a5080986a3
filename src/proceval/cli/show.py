"""`proceval show`: pretty-print items of a dataset (one per condition) or a template's causal graph."""

from __future__ import annotations

import argparse
from collections import Counter
from difflib import get_close_matches
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from proceval.dataset import ITEMS_FILE, Dataset, Item
from proceval.errors import DatasetError
from proceval.templates import builtin_templates, load_template, load_template_text


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("show", help="print a few items, one per condition, or a causal graph")
    parser.add_argument("target", help="a dataset directory, or a template (name or file) with --graph")
    parser.add_argument("--n", type=int, default=3, help="how many conditions to show (default 3)")
    parser.add_argument("--condition", help="show items of this condition only")
    parser.add_argument("--graph", action="store_true", help="print the causal graph and mechanisms")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    target = Path(args.target)
    if args.graph:
        if target.is_dir():
            text = Dataset.load(target).template_text() or ""
            template = load_template_text(text, display=str(target / "template.yaml"))
        else:
            template = load_template(args.target if args.target in builtin_templates() else target)
        console.print(Panel(escape(template.describe_graph()), title=f"causal graph of {escape(template.name)}"))
        return 0
    dataset = Dataset.load(target)
    known = list(dataset.manifest.counts_per_condition)
    if args.condition is not None and args.condition not in known:
        close = get_close_matches(args.condition, known, n=1)
        raise DatasetError(
            f"no condition {args.condition!r} in this dataset",
            file=target,
            field="--condition",
            hint=(f"did you mean {close[0]!r}? " if close else "") + f"its conditions: {', '.join(known)}",
        )
    for item in pick_items(dataset, args.n, args.condition):
        console.print(Panel(format_item(item), title=escape(f"{item.condition_name} · {item.question_name}"),
                            subtitle=escape(item.id)))
    # count what is on disk, not what the manifest promises: a cut-short items.jsonl must not pass as whole
    found: Counter[str] = Counter(item.condition_name for item in dataset.iter_items())
    total = sum(found.values())
    console.print(f"{total} items in {len(found)} conditions")
    if total != len(dataset):
        Console(stderr=True).print(
            f"warning: {escape(str(target / ITEMS_FILE))} holds {total} items but manifest.json says "
            f"{len(dataset)}: the dataset is incomplete; generate it again", highlight=False)
        return 1
    return 0


def pick_items(dataset: Dataset, n: int, condition: str | None = None) -> list[Item]:
    """The first item of each of the first ``n`` conditions (or ``n`` items of one condition)."""
    chosen: dict[str, Item] = {}
    picked: list[Item] = []
    for item in dataset.iter_items():
        if condition is not None:
            if item.condition_name == condition:
                picked.append(item)
                if len(picked) == n:
                    break
        elif item.condition_name not in chosen:
            chosen[item.condition_name] = item
            if len(chosen) == n:
                break
    return picked if condition is not None else list(chosen.values())


def format_item(item: Item) -> str:
    lines = [escape(item.text), "", f"[bold]{escape(item.question)}[/]"]
    if item.response_type == "choice":
        for option in item.options:
            mark = " [green]✓[/]" if option["key"] == item.answer else ""
            lines.append(f"  • {escape(option['text'])}{mark}")
    elif item.response_type == "rating":
        low, high = item.scale
        labels = item.response["scale"].get("labels", {})
        lines.append("  " + "  ".join(f"{p}{' ' + escape(labels[str(p)]) if str(p) in labels else ''}"
                                      for p in range(low, high + 1)))
    levels = ", ".join(f"{k}={v}" for k, v in item.condition.items() if v is not None)
    lines.append(f"[dim]{escape(levels)}[/]")
    return "\n".join(lines)
