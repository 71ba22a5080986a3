"""The human web study: participants answer the same items the models do.

- :func:`create_app` builds the ASGI app (consent → instructions → check → trials → demographics → debrief
  → completion) over a dataset directory and a database (SQLite file or PostgreSQL).
- :func:`serve` runs it with uvicorn; :func:`export_responses` writes the long table
  ``proceval analyze --humans`` reads; :func:`export_participants` one row per session (timing, attention,
  demographics).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proceval.humans.config import StudyConfig, load_study_config
from proceval.humans.export import COLUMNS, ExportSummary, export_participants, export_responses

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["COLUMNS", "ExportSummary", "StudyConfig", "create_app", "export_participants", "export_responses",
           "load_study_config", "serve"]


def create_app(*args: Any, **kwargs: Any) -> Starlette:
    from proceval.humans.app import create_app as _create_app

    return _create_app(*args, **kwargs)


def serve(*args: Any, **kwargs: Any) -> None:
    from proceval.humans.server import serve as _serve

    _serve(*args, **kwargs)


create_app.__doc__ = "Build the study ASGI app; see :func:`proceval.humans.app.create_app`."
serve.__doc__ = "Run the study with uvicorn; see :func:`proceval.humans.server.serve`."
