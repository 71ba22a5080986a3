"""``proceval run``: give a dataset's items to a language model (and personas); thin wrapper of run_dataset."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from proceval.cli.executor import add_executor_arguments, ray_settings
from proceval.errors import RunError
from proceval.models.base import split_spec
from proceval.solvers.prompts import OPTION_FORMATS, STRATEGIES
from proceval.solvers.scoring import SCORINGS
from proceval.solvers.subjects import PERSONA_ORDERS


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="give a dataset's items to a language model",
        description="Give every item of DATASET to --model (and to each persona) and write --out. "
        "Run the same command again to resume an interrupted run.",
    )
    p.add_argument("dataset", help="dataset directory (from `proceval generate`)")
    p.add_argument("--model", "-m", default="local/smollm2-135m",
                   help="provider/model: local/smollm2-135m (default), llama-cpp/PATH.gguf, openai/MODEL, hf/NAME")
    p.add_argument("--out", "-o", required=True, help="run directory to write (or resume)")
    p.add_argument("--solver", default="model", help="who answers: model (default: --model under --prompt), "
                   "guided, logic-guide, logic-cot, calculator (a program), or a plugin's solver")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", dest="solver_options",
                   help="a solver option (repeatable), e.g. --solver logic-guide --option formalise=proceval")
    p.add_argument("--prompt", dest="strategy", choices=STRATEGIES, default="zero-shot", help="prompt strategy")
    p.add_argument("--scoring", choices=SCORINGS, default="auto",
                   help="logprob (option probabilities), generate (parse a sampled answer), auto")
    p.add_argument("--system", help="system prompt text")
    p.add_argument("--k-shots", type=int, default=3, help="worked examples for --prompt few-shot (default 3)")
    p.add_argument("--option-format", choices=OPTION_FORMATS, default="letters",
                   help="answer options by letter (default) or by their text")
    p.add_argument("--prompt-dir", help="directory of prompt templates overriding the built-in ones")
    g = p.add_argument_group("personas")
    g.add_argument("--personas", metavar="FILE", help="persona table (CSV/TSV), or a long human table for one twin per "
                   "participant: each persona answers every item as its own subject")
    g.add_argument("--persona-template", metavar="TEXT_OR_FILE", help="Jinja2 text or file rendering each persona's system prompt")
    g.add_argument("--n-personas", type=int, metavar="N", help="draw this many personas from the table (seeded)")
    g.add_argument("--persona-seed", type=int, metavar="S", help="seed of that draw (default --seed)")
    g.add_argument("--persona-order", choices=PERSONA_ORDERS,
                   help="order each persona answers in: dataset (default), human (a twin's own order), shuffled")
    g.add_argument("--persona-memory", type=int, metavar="K",
                   help="each persona's prompt recalls its last K items and its own answers (default 0)")
    p.add_argument("--limit", type=int, help="only the first N items")
    p.add_argument("--split", help="only the items of this condition (a task's split, e.g. countdown's val_target)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--max-tokens", type=int, help="tokens to generate (default 16, 256 for cot)")
    p.add_argument("--cache", help="call cache file (default OUT/calls.sqlite); share one across runs")
    p.add_argument("--force", action="store_true", help="start over when --out holds a run with other settings")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = p.add_argument_group("backend options")
    g.add_argument("--base-url", action="append", help="openai: server URL (default $OPENAI_BASE_URL; one of the two "
                   "is required, also for OpenAI's own API); the key comes from $OPENAI_API_KEY only; repeat it with "
                   "--executor ray for a pool of servers of the same model")
    g.add_argument("--max-connections", type=int, help="openai: requests in flight (default 4)")
    g.add_argument("--max-retries", type=int, help="openai: retries on 429/5xx/timeouts before giving up (default 6)")
    g.add_argument("--endpoint", choices=("chat", "completions"), help="openai: API endpoint (default chat)")
    g.add_argument("--n-ctx", type=int, help="local/llama-cpp: context window in tokens (default 2048)")
    g.add_argument("--threads", type=int, help="local/llama-cpp/hf: CPU threads (default all cores)")
    g.add_argument("--device", help="hf: torch device (default cuda where present, else cpu)")
    add_executor_arguments(p, what="items")
    p.set_defaults(func=run_command)


def backend_options(provider: str, args: argparse.Namespace) -> dict[str, Any]:
    """The backend options given on the command line that apply to ``provider``."""
    wanted = {
        "openai": {"base_url": args.base_url[0] if args.base_url else None, "max_connections": args.max_connections, "endpoint": args.endpoint,
                   "max_retries": args.max_retries},
        "local": {"n_ctx": args.n_ctx, "n_threads": args.threads},
        "llama-cpp": {"n_ctx": args.n_ctx, "n_threads": args.threads},
        "hf": {"device": args.device, "n_threads": args.threads},
    }.get(provider, {})
    return {k: v for k, v in wanted.items() if v is not None}


def run_command(args: argparse.Namespace) -> int:
    from proceval.core.task import parse_options
    from proceval.run import run_dataset
    from proceval.solvers import configured

    provider, _ = split_spec(args.model)
    ray = ray_settings(args)
    if len(args.base_url or []) > 1 and ray is None:
        raise RunError("several --base-url make a pool of servers, which --executor ray shares out",
                       field="--base-url", hint="add --executor ray, or give one --base-url")
    if provider == "openai":  # say which server is asked before the first request (and refuse a bad address)
        from proceval.models.openai import resolve_base_url

        url, origin = resolve_base_url(args.base_url[0] if args.base_url else None)
        Console(stderr=True).print(f"model {escape(args.model)} at {escape(url)} (from {origin})", highlight=False)
        if ray is not None:  # each actor is given its server: the cluster's nodes may not share the environment
            ray.update(base_urls=args.base_url or [url], per_endpoint=args.max_connections or 4)
    executor = None
    if ray is not None:
        from proceval.run.ray import RayExecutor

        executor = RayExecutor(**ray)
    personas = None
    persona_options = {"--persona-template": args.persona_template, "--n-personas": args.n_personas,
                       "--persona-seed": args.persona_seed, "--persona-order": args.persona_order,
                       "--persona-memory": args.persona_memory}
    given = [name for name, value in persona_options.items() if value is not None]
    if given and not args.personas:
        raise RunError("persona options need --personas", field=", ".join(given),
                       hint="pass --personas FILE (a persona table or a long human table)")
    if args.personas:
        from proceval.solvers.personas import load_personas  # another module; imported only when used

        personas = load_personas(args.personas, template=args.persona_template, n=args.n_personas,
                                 seed=args.seed if args.persona_seed is None else args.persona_seed)
    run = run_dataset(
        args.dataset,
        args.model,
        args.out,
        strategy=args.strategy,
        scoring=args.scoring,
        system=args.system,
        k_shots=args.k_shots,
        limit=args.limit,
        seed=args.seed,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        option_format=args.option_format,
        personas=personas,
        persona_order=args.persona_order or "dataset",
        persona_memory=args.persona_memory or 0,
        cache_path=args.cache,
        progress=not args.no_progress,
        prompt_dir=args.prompt_dir,
        force=args.force,
        solver=configured(args.solver, parse_options(args.solver_options)),
        executor=executor,
        split=args.split,
        **backend_options(provider, args),
    )
    console = Console()
    counts = run.info.get("counts", {})
    table = Table(title=f"run {escape(str(run.path))}", show_header=False)
    for key in ("items", "ok", "invalid", "too_long", "errors", "calls", "cache_hits", "wall_s"):
        table.add_row(key, str(counts.get(key, "")))
    if counts.get("beyond_limit"):
        table.add_row("kept beyond --limit", str(counts["beyond_limit"]))
    console.print(table)
    responses = run.responses
    if run.info.get("limit") is not None:  # answers kept from an earlier, larger --limit are not this run's
        from proceval.dataset import Dataset

        chosen = {item.id for item in [i for i in Dataset.load(args.dataset).items
                                       if args.split in (None, i.condition_name)][: run.info["limit"]]}
        responses = [r for r in responses if r["item_id"] in chosen]
    scored = [r for r in responses if r.get("correct") is not None]
    if scored:
        accuracy = sum(bool(r["correct"]) for r in scored) / len(scored)
        console.print(f"accuracy {accuracy:.3f} over {len(scored)} answered items with a correct answer")
    return 1 if counts.get("errors") else 0
