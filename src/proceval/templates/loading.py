"""Parsing template YAML into a validated :class:`~proceval.templates.template.Template`, with pydantic's
errors turned into one :class:`~proceval.errors.TemplateError` that names the line and key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from proceval.errors import TemplateError
from proceval.templates.schema import TemplateSpec
from proceval.templates.template import Template
from proceval.templates.validate import _Validator
from proceval.templates.yamlio import LineMap, Path_, format_loc, load_yaml


def load_template_text(text: str, path: Path | None = None, display: str | None = None) -> Template:
    """Parse and validate template YAML. ``display`` is the file name used in error messages."""
    where = display or (str(path) if path else "<template>")
    if not text.strip():
        raise TemplateError("the template file is empty", file=where, hint="see docs/templates.md for the format")
    data, lines = load_yaml(text, where, TemplateError)
    if not isinstance(data, dict):
        raise TemplateError("a template must be a YAML mapping (name:, variables:, story:, ...)", file=where)
    try:
        spec = TemplateSpec.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_error(exc, lines, where) from None
    template = Template(spec=spec, source_text=text, path=path, lines=lines)
    _Validator(template, where).run()
    return template


def _pydantic_error(exc: ValidationError, lines: LineMap, where: str) -> TemplateError:
    # a typo shows up as an unknown key plus a missing one: report the typo, it is the cause
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    loc: Path_ = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    message = first["msg"]
    hint = None
    if first["type"] == "extra_forbidden":
        from difflib import get_close_matches

        key = str(loc[-1])
        known = _known_keys(loc[:-1])
        close = get_close_matches(key, known, n=1)
        message = f"unknown key {key!r}"
        hint = f"did you mean {close[0]!r}?" if close else f"known keys here: {', '.join(sorted(known))}"
    elif first["type"] == "missing":
        message = "required key is missing"
    more = len(exc.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return TemplateError(message, file=where, line=lines.line_for(loc), field=format_loc(loc), hint=hint)


def _known_keys(loc: Path_) -> list[str]:
    """Field names allowed at ``loc`` (for typo suggestions)."""
    from proceval.templates import schema

    model: Any = schema.TemplateSpec
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        info = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if info is None:
            continue
        model = _model_in(info.annotation)
    return list(model.model_fields) if model is not None and hasattr(model, "model_fields") else []


def _model_in(annotation: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None
