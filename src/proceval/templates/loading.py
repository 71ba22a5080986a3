"""Parsing template YAML into a validated :class:`~proceval.templates.template.Template`, with pydantic's
errors turned into one :class:`~proceval.errors.TemplateError` that names the line and key.
"""

from __future__ import annotations

from pathlib import Path

from proceval.errors import TemplateError
from proceval.templates.schema import TemplateSpec
from proceval.templates.template import Template
from proceval.templates.validate import _Validator
from proceval.templates.yamlio import load_yaml, validate_yaml


def load_template_text(text: str, path: Path | None = None, display: str | None = None) -> Template:
    """Parse and validate template YAML. ``display`` is the file name used in error messages."""
    where = display or (str(path) if path else "<template>")
    if not text.strip():
        raise TemplateError("the template file is empty", file=where, hint="see docs/templates.md for the format")
    data, lines = load_yaml(text, where, TemplateError)
    if not isinstance(data, dict):
        raise TemplateError("a template must be a YAML mapping (name:, variables:, story:, ...)", file=where)
    spec = validate_yaml(data, TemplateSpec, TemplateError, file=where, lines=lines)
    template = Template(spec=spec, source_text=text, path=path, lines=lines)
    _Validator(template, where).run()
    return template
