"""`proceval study`: run every stage of a study file, resuming what is done."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from proceval.cli.analyze import print_report
from proceval.errors import StudyError
from proceval.models.openai_wire import resolve_base_url
from proceval.study import StudyResult, check_study, load_study, run_study, stage_hashes
from proceval.study_kinds import STUDY_KINDS, study_kind
from proceval.templates.yamlio import read_yaml


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "study",
        help="run a study file: generate, run every subject, analyse (skipping finished stages)",
        description="Run each stage of STUDY (a YAML file) once into --out: dataset/, runs/<subject>/, report/. "
        "Stages whose outputs exist and whose inputs are unchanged are skipped, so an interrupted study resumes.",
    )
    parser.add_argument("study", type=Path, help="study file (YAML), e.g. examples/tom-demo/study.yaml")
    parser.add_argument("--out", type=Path, help="study directory (default runs/STUDY-NAME)")
    parser.add_argument("--force", action="store_true", help="redo every stage")
    parser.add_argument("--check", action="store_true", help="only check the study file and show the stages")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    data, _ = read_yaml(args.study, StudyError) if args.study.is_file() else (None, None)
    kind = study_kind(data)
    if kind is not None:  # a simulation, training experiment, ...: its own module runs it
        out = args.out or Path("runs") / args.study.resolve().parent.name
        result = STUDY_KINDS.get(kind)(args.study, out=out, force=args.force, log=lambda line: console.print(escape(line)))
        _print_stages(result, console)
        if result.report is not None:
            print_report(result.report, console)
        return 0
    loaded = load_study(args.study)
    out = args.out or Path("runs") / loaded.study.name
    if args.check:
        notes = check_study(loaded)
        console.print(f"[green]ok[/] {escape(str(args.study))}: study {escape(loaded.study.name)}")
        for stage, digest in stage_hashes(loaded, out).items():
            console.print(f"  {escape(stage)}  inputs {digest}")
        for note in ["template, model names, backend option names and input files were checked", *notes]:
            console.print(f"  [dim]{escape(note)}[/]")
        return 0
    for subject in loaded.study.subjects:  # which server a subject talks to, before anything is sent there
        if subject.model.startswith("openai/"):
            url, origin = resolve_base_url(subject.options.get("base_url"))
            origin = "options.base_url" if subject.options.get("base_url") else origin
            console.print(f"  {escape(subject.run_name)}: {escape(subject.model)} at {escape(url)} (from {origin})")
    result = run_study(loaded, out=out, force=args.force, log=lambda line: console.print(escape(line)))
    _print_stages(result, console)
    print_report(result.report, console)
    return 0


def _print_stages(result: StudyResult, console: Console) -> None:
    for outcome in result.stages:
        style = {"ran": "green", "resumed": "green", "skipped": "dim"}[outcome.status]
        note = f" ({escape(outcome.reason)})" if outcome.reason else ""
        console.print(f"[{style}]{outcome.status:>8}[/] {escape(outcome.stage)} → {escape(str(outcome.output))}{note}")
