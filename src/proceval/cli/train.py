"""`proceval train sft|star|certified`: train models on search streams (Stream of Search), improve them by STaR,
and by self-improvement on certified reasoning (LogicGuide)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape


def _settings(parser: argparse.ArgumentParser, epochs: float, batch_size: int = 16, learning_rate: float = 1e-3
              ) -> None:
    g = parser.add_argument_group("training")
    g.add_argument("--epochs", type=float, default=epochs, help=f"passes over the data (default {epochs:g})")
    g.add_argument("--batch-size", type=int, default=batch_size, help=f"examples per step (default {batch_size})")
    g.add_argument("--learning-rate", type=float, default=learning_rate,
                   help=f"peak learning rate (default {learning_rate:g})")
    g.add_argument("--max-length", type=int, help="longest example in tokens (default: the model's context); "
                                                  "problems whose stream is longer are left out and counted")
    g.add_argument("--max-steps", type=int, default=-1, help="stop after N steps (default: the epochs decide)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--force", action="store_true", help="train afresh when --out holds another training")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("train", help="train models on search streams (sft) and by self-improvement "
                                                 "(star)")
    commands = parser.add_subparsers(dest="train_command", metavar="KIND", required=True)
    sft = commands.add_parser(
        "sft", help="train on the streams (or optimal paths) of `proceval search`",
        description="Train a model on DATA/train.jsonl (from `proceval search`): the whole search stream "
        "(--text stream) or the optimal path (--text optimal). The model in --out loads as hf/OUT.")
    sft.add_argument("--data", type=Path, required=True, help="streams folder of `proceval search`")
    sft.add_argument("--text", choices=("stream", "optimal"), default="stream", help="what to train on")
    sft.add_argument("--model", default="tiny", help="a preset (tiny, small, paper) or hf/PATH to fine-tune")
    sft.add_argument("--out", type=Path, required=True, help="folder for the model (resumed when rerun)")
    _settings(sft, 2.0)
    sft.set_defaults(func=run_sft)
    star = commands.add_parser(
        "star", help="self-improvement: sample, keep verified streams, fine-tune, repeat",
        description="STaR: each round samples the model on training problems of DATA, keeps the streams the "
        "verifier accepts and fine-tunes on them. Rounds already done are kept when rerun.")
    star.add_argument("--model", required=True, help="the starting model folder (hf/PATH or PATH)")
    star.add_argument("--data", type=Path, required=True, help="countdown dataset (its train split is sampled)")
    star.add_argument("--rounds", type=int, default=1, help="rounds (default 1)")
    star.add_argument("--problems", type=int, default=1000, help="training problems sampled per round "
                                                                 "(default 1000)")
    star.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default 0.8)")
    star.add_argument("--max-tokens", type=int, default=1024, help="tokens per sampled stream (default 1024)")
    star.add_argument("--out", type=Path, required=True, help="folder for the rounds and the final model")
    _settings(star, 1.0)
    star.set_defaults(func=run_star)
    cert = commands.add_parser(
        "certified", help="self-improvement on certified reasoning (LogicGuide) vs on right answers",
        description="Two arms from one model on prontoqa problems: 'certified' samples under the logic guide and "
        "keeps traces the guide certifies (valid steps, gold answer proved); 'answer-right' samples without it "
        "and keeps traces whose answer is right. Each fine-tunes on its kept traces, for --rounds rounds "
        "(finished rounds are kept when rerun); then each final model answers --held-out under the guide.")
    cert.add_argument("--model", default="hf/smollm2-135m", help="start model (default hf/smollm2-135m)")
    cert.add_argument("--data", type=Path, required=True, help="prontoqa dataset to train on")
    cert.add_argument("--held-out", type=Path, help="prontoqa dataset to evaluate on (none: no evaluation)")
    cert.add_argument("--rounds", type=int, default=1, help="rounds (default 1)")
    cert.add_argument("--problems", type=int, default=100, help="training problems (default 100)")
    cert.add_argument("--samples", type=int, default=2, help="traces sampled per problem and round (default 2)")
    cert.add_argument("--eval-problems", type=int, help="held-out problems answered (default all)")
    cert.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default 0.8)")
    cert.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                      help="logic-guide option for both arms, e.g. formalise=proceval (repeatable)")
    cert.add_argument("--sample-with", help="generate with this model where the start model only generates "
                                            "(round 1, its evaluation), e.g. local/smollm2-135m: faster")
    cert.add_argument("--arms", default="certified,answer-right", help="arms to run, comma-separated "
                                                                       "(default certified,answer-right)")
    cert.add_argument("--out", type=Path, required=True, help="folder for the rounds, models and report")
    _settings(cert, 1.0, batch_size=4, learning_rate=2e-5)
    cert.set_defaults(func=run_certified)


def _train_settings(args: argparse.Namespace) -> object:
    from proceval.train.sft import TrainSettings

    return TrainSettings(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                         max_length=args.max_length, max_steps=args.max_steps)


def run_sft(args: argparse.Namespace) -> int:
    from proceval.train.fit import describe
    from proceval.train.sft import left_out, train_sft

    manifest = train_sft(args.data, args.out, text=args.text, model=args.model,
                         settings=_train_settings(args), seed=args.seed,  # type: ignore[arg-type]
                         force=args.force, progress=not args.no_progress)
    console = Console()
    console.print(f"trained on {manifest.counts['examples']} examples ({manifest.counts['tokens']} tokens): "
                  f"{escape(describe(manifest))}", highlight=False)
    for reason, n in left_out(manifest).items():
        console.print(f"[yellow]left out {n}[/] record(s): {escape(reason)}")
    console.print(f"[green]wrote[/] {escape(str(args.out))} (run it with --model hf/{escape(str(args.out))})")
    return 0


def run_star(args: argparse.Namespace) -> int:
    from proceval.train.star import star

    report = star(args.model, args.data, args.out, rounds=args.rounds, problems=args.problems,
                  temperature=args.temperature, max_tokens=args.max_tokens,
                  settings=_train_settings(args), seed=args.seed,  # type: ignore[arg-type]
                  force=args.force, progress=not args.no_progress)
    console = Console()
    for row in report["rounds"]:
        console.print(f"round {row['round']}: solved {row['solved']} of {row['problems']} problems, "
                      f"{row['newly_solved']} not solved in an earlier round; trained on {row['accepted']}")
    console.print(f"[green]wrote[/] {escape(str(args.out))}")
    return 0


def run_certified(args: argparse.Namespace) -> int:
    from proceval.errors import ProcevalError
    from proceval.train.certified import certified

    bad = [o for o in args.option if "=" not in o]
    if bad:
        raise ProcevalError(f"--option {bad[0]!r} is not KEY=VALUE", field="option")
    report = certified(args.model, args.data, args.out, held_out=args.held_out, rounds=args.rounds,
                       problems=args.problems, samples=args.samples, eval_problems=args.eval_problems,
                       temperature=args.temperature, options=dict(o.split("=", 1) for o in args.option),
                       settings=_train_settings(args), sample_with=args.sample_with,  # type: ignore[arg-type]
                       arms=tuple(a.strip() for a in args.arms.split(",") if a.strip()), seed=args.seed,
                       force=args.force, progress=not args.no_progress)
    console = Console()
    for row in report["rounds"]:
        console.print(f"round {row['round']} {row['arm']}: kept {row['kept']} of {row['sampled']} traces "
                      f"({row['problems_kept']} problems); trained {row['steps']} steps", highlight=False)
    for name, e in report["evaluation"].items():
        console.print(f"{name}: {e['correct']}/{e['n']} held-out right ({e['accuracy']:.0%}, "
                      f"{e['level']:.0%} Wilson CI {e['ci_low']:.0%}–{e['ci_high']:.0%})", highlight=False)
    console.print(f"[green]wrote[/] {escape(str(args.out))}")
    return 0
