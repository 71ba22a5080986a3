"""HTML pages of the analyses that write their own report (alignment, QDC): Jinja2 templates in
``analysis/templates/``, autoescaped, so every name, id and model-written text is escaped."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape


@cache
def _environment() -> Environment:
    return Environment(loader=PackageLoader("proceval.analysis", "templates"), autoescape=select_autoescape(["j2"]))


def render_page(template: str, **context: Any) -> str:
    """``templates/<template>`` rendered with ``context``."""
    return _environment().get_template(template).render(**context)
