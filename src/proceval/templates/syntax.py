"""The expression language of templates: the sandboxed Jinja2 environment, the names a text or an
expression reads, sandbox errors, and the order of a causal graph's edges.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from jinja2 import StrictUndefined, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from proceval.errors import TemplateError

ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
BUILTIN_NAMES = frozenset(ENV.globals) | {"true", "false", "none", "True", "False", "None"}


_SIMPLE_REFERENCE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


def sentence_start(text: str) -> str:
    """``text`` with its first character capitalised (the start of a sentence); the rest as it is."""
    return text[:1].upper() + text[1:]


def sandbox_error(exc: SecurityError, where: str) -> TemplateError:
    """A text that tried something Jinja2's sandbox forbids (attribute internals, unsafe calls)."""
    return TemplateError(f"the template tried something the sandbox forbids: {exc}", field=where or None,
                         hint="texts may only read variables, factors and derived values (and simple filters)")


def _parse_edge(edge: str | list[str]) -> tuple[str, str]:
    if isinstance(edge, list):
        return edge[0], edge[1]
    cause, _, effect = edge.partition("->")
    return cause.strip(), effect.strip()


@functools.lru_cache(maxsize=4096)
def _names_in(text: str) -> frozenset[str]:
    return frozenset(meta.find_undeclared_variables(ENV.parse(text))) - BUILTIN_NAMES


@functools.lru_cache(maxsize=4096)
def _root_names(expression_text: str) -> frozenset[str]:
    """Names an expression reads (without attribute access)."""
    ast = ENV.parse("{{ " + expression_text + " }}")
    return frozenset(n.name for n in ast.find_all(nodes.Name) if n.ctx == "load") - BUILTIN_NAMES


@functools.lru_cache(maxsize=4096)
def compile_expression(text: str) -> Any:
    return ENV.compile_expression(text, undefined_to_none=False)


def _topological_order(edges: list[tuple[str, str]]) -> list[str]:
    nodes_: list[str] = []
    for cause, effect in edges:
        for n in (cause, effect):
            if n not in nodes_:
                nodes_.append(n)
    incoming = {n: 0 for n in nodes_}
    for _, effect in edges:
        incoming[effect] += 1
    order, ready = [], [n for n in nodes_ if incoming[n] == 0]
    while ready:
        n = ready.pop(0)
        order.append(n)
        for cause, effect in edges:
            if cause == n:
                incoming[effect] -= 1
                if incoming[effect] == 0:
                    ready.append(effect)
    return order
