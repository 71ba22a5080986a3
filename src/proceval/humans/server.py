"""Run the study app with uvicorn (what ``proceval serve`` calls)."""

from __future__ import annotations

import os

from proceval.dataset import Dataset
from proceval.humans.config import StudyConfig


def serve(dataset: Dataset | str | os.PathLike[str], config: StudyConfig | None = None,
          db_url: str = "sqlite:///study.db", *, host: str = "127.0.0.1", port: int = 8000,
          pilot: bool = False, access_log: bool = True) -> None:
    """Serve the study until interrupted. Put it behind an HTTPS reverse proxy for real participants."""
    import uvicorn

    from proceval.humans.app import create_app

    app = create_app(dataset, config, db_url, pilot=pilot)
    # forwarded headers are trusted from loopback only (a reverse proxy on the same machine)
    uvicorn.run(app, host=host, port=port, access_log=access_log, proxy_headers=True,
                forwarded_allow_ips="127.0.0.1", log_level="info", timeout_graceful_shutdown=5)
