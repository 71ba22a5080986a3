"""The causal-template language: load a built-in template by name or a user's YAML file by path."""

from __future__ import annotations

import os
from pathlib import Path

from proceval.errors import TemplateError
from proceval.templates.loading import load_template_text
from proceval.templates.template import Condition, Template
from proceval.templates.yamlio import read_yaml_text

# The built-in families live in proceval/tasks/<family>/ with their lexicons (and any Python and docs); they are
# read here as files, not imported, so the template language does not depend on the tasks written in it.
BUILTIN_DIR = Path(__file__).parents[1] / "tasks"


def builtin_templates() -> dict[str, Path]:
    """Built-in template name → file: a file ``tasks/FAMILY/NAME.yaml`` is the template ``NAME``, and
    ``NAME_lexicon.yaml`` beside it is its lexicon."""
    return {p.stem: p for p in sorted(BUILTIN_DIR.glob("*/*.yaml")) if not p.stem.endswith("_lexicon")}


def load_template(name_or_path: str | os.PathLike[str]) -> Template:
    """Load a built-in template (``"tom"``) or a template file (``"my_template.yaml"``)."""
    text_name = str(name_or_path)
    builtins = builtin_templates()
    if text_name in builtins:
        path = builtins[text_name]
        display = f"{text_name} (built-in: {path.name})"
    else:
        path = Path(name_or_path)
        display = str(path)
        if not path.is_file():
            hint = f"built-in templates: {', '.join(builtins)}; or give the path of a YAML file"
            raise TemplateError(f"no built-in template or file named {text_name!r}", hint=hint)
    text = read_yaml_text(path, TemplateError, display)
    return load_template_text(text, path=path, display=display)


__all__ = ["BUILTIN_DIR", "Condition", "Template", "builtin_templates", "load_template", "load_template_text"]
