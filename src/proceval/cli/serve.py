"""``proceval serve DATASET``: run the human web study."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the web study that gives a dataset's items to human participants",
        description="Serve a dataset's items to participants (consent, instructions, checks, trials, debrief). "
                    "The admin page at /admin needs a token of at least 32 random characters in $PROCEVAL_ADMIN_TOKEN "
                    "(make one with: python -c \"import secrets; print(secrets.token_urlsafe(32))\").")
    parser.add_argument("dataset", help="dataset directory (from `proceval generate`)")
    parser.add_argument("--study-config", metavar="YAML", help="study texts, checks and assignment (docs/humans.md)")
    parser.add_argument("--db", default="sqlite:///study.db",
                        help="sqlite:///FILE (default sqlite:///study.db) or postgresql://user@host/db")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="server processes sharing the port and the database (default 1; see docs/humans.md)")
    parser.add_argument("--pilot", action="store_true", help="mark every session as pilot (kept out of results)")
    parser.add_argument("--no-access-log", action="store_true", help="do not log each request")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from proceval.dataset import Dataset
    from proceval.humans import load_study_config, serve
    from proceval.humans.server import bind

    sock = bind(args.host, args.port)  # first: a port in use ends here, before anything is printed or created
    try:
        dataset = Dataset.load(args.dataset)
        config = load_study_config(args.study_config)
        console = Console(stderr=True, soft_wrap=True)
        if not config.resolved_admin_token():  # a guessable token is an error here
            console.print(f"[yellow]note:[/] the admin page is off; set {config.admin_token_env} to turn it on")
        if args.pilot:
            console.print("[yellow]pilot mode:[/] every answer is marked as pilot")
        console.print(f"study link: http://{args.host}:{args.port}/  (Prolific: append "
                      "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}})",
                      markup=False, highlight=False)
        serve(dataset, config, args.db, host=args.host, port=args.port, pilot=args.pilot,
              access_log=not args.no_access_log, sock=sock, workers=args.workers)
    finally:
        sock.close()
    return 0



