"""YAML loading that remembers where every key came from, so errors can name the line.

Every YAML file proceval reads goes through here, with two limits against hostile or broken files: a size
limit (checked before reading) and a limit on how much aliases (``*name``) may expand the document, so a
few hundred bytes of nested aliases (a "billion laughs" file) are refused at once instead of filling memory.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from proceval.errors import ProcevalError

Path_ = tuple[str | int, ...]

MAX_YAML_BYTES = 20_000_000  # far above any template, lexicon or study file; a bigger one is a mistake
MAX_ALIAS_NODES = 100_000  # nodes that aliases may add to a document when they are expanded


class LineMap(dict[Path_, int]):
    """Maps a path of keys/indices (as in pydantic error locations) to a 1-based line number."""

    def line_for(self, path: Path_) -> int | None:
        """The line of the longest prefix of ``path`` that was seen in the file."""
        for end in range(len(path), -1, -1):
            line = self.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


def load_yaml(text: str, file: str | Path, error: type[ProcevalError] = ProcevalError) -> tuple[Any, LineMap]:
    """Parse ``text`` into plain Python data and a :class:`LineMap`.

    Duplicate keys are an error (PyYAML would silently keep the last one). Texts over
    :data:`MAX_YAML_BYTES` and documents whose aliases expand by more than :data:`MAX_ALIAS_NODES` nodes
    are errors too.
    """
    if len(text) > MAX_YAML_BYTES:
        raise _too_big(len(text), file, error)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(
            f"malformed YAML: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            hint="check indentation and quoting (strings containing ': ' or '{{' need quotes)",
        ) from None
    lines = LineMap()
    if root is None:
        return None, lines
    _check_aliases(root, file, error)
    return _convert(root, (), lines, file, error), lines


def read_yaml(path: str | Path, error: type[ProcevalError] = ProcevalError) -> tuple[Any, LineMap]:
    """Read the YAML file ``path`` with :func:`load_yaml` (see :func:`read_yaml_text`)."""
    return load_yaml(read_yaml_text(path, error), path, error)


def read_yaml_text(path: str | Path, error: type[ProcevalError] = ProcevalError, display: str | None = None) -> str:
    """The text of a YAML file: UTF-8 (a BOM is dropped), at most :data:`MAX_YAML_BYTES`, checked before reading."""
    file = Path(path)
    where = display or file
    try:
        size = file.stat().st_size
        if size > MAX_YAML_BYTES:
            raise _too_big(size, where, error)
        return file.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise error("no such file", file=where) from None
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text (byte {exc.start})", file=where, hint="save the file as UTF-8") from None
    except OSError as exc:
        raise error(f"cannot read the file: {exc.strerror}", file=where) from None


def _too_big(size: int, file: str | Path, error: type[ProcevalError]) -> ProcevalError:
    return error(f"the YAML file is {size:,} bytes, more than the {MAX_YAML_BYTES:,} proceval reads",
                 file=file, hint="large data belongs in a table file (--from FILE), not in YAML")


def _check_aliases(root: yaml.Node, file: str | Path, error: type[ProcevalError]) -> None:
    """Refuse a document whose aliases would expand it by more than MAX_ALIAS_NODES nodes.

    The composed graph shares one node per anchor, so the expanded size is computed bottom-up in time
    linear in the file, before anything is expanded.
    """
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # nodes whose children are being sized: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done and id(node) in open_:
            raise error("an alias (*name) refers to a value that contains it", file=file,
                        line=node.start_mark.line + 1, hint="YAML aliases here must not be recursive")
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if children_done:
            sizes[id(node)] = 1 + sum(sizes.get(id(c), 0) for c in children)
            open_.discard(id(node))
        else:
            open_.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
    expanded = sizes[id(root)]
    if expanded - len(sizes) > MAX_ALIAS_NODES:
        raise error(
            f"aliases (*name) expand this document to {expanded:,} values, more than {MAX_ALIAS_NODES:,} "
            "beyond what it writes out",
            file=file,
            hint="write the values out, or use fewer nested aliases",
        )


def _convert(node: yaml.Node, path: Path_, lines: LineMap, file: str | Path, error: type[ProcevalError]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader(" ").construct_object(key_node)  # scalars only in our files
            if key in result:
                raise error(
                    f"duplicate key {key!r}",
                    file=file,
                    line=key_node.start_mark.line + 1,
                    field=".".join(str(p) for p in (*path, key)),
                    hint="each name may appear once; rename or merge the two entries",
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, (*path, key), lines, file, error)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(child, (*path, i), lines, file, error) for i, child in enumerate(node.value)]
    if node.tag == "tag:yaml.org,2002:bool" and str(node.value).lower() not in ("true", "false"):
        return node.value  # YAML 1.2: yes/no/on/off are strings (factor levels such as [yes, no])
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node)
    finally:
        loader.dispose()


def format_loc(loc: Path_) -> str:
    return ".".join(str(p) for p in loc if p != "__root__") or "(top level)"


M = TypeVar("M", bound=BaseModel)


def read_model(path: str | Path, model: type[M], error: type[ProcevalError], *, hint: str | None = None,
               at: Path_ = ()) -> M:
    """Read the YAML file ``path`` and validate it (or its section ``at``, e.g. ``("sos",)``) as ``model``;
    bad YAML or a rejected value is one ``error`` naming the file, line and field."""
    data, lines = read_yaml(path, error)
    for key in at:
        data = data.get(key) if isinstance(data, dict) else None
    return validate_yaml(data or {}, model, error, file=path, lines=lines, hint=hint, at=at)


def validate_yaml(data: object, model: type[M], error: type[ProcevalError], *, file: str | Path | None,
                  lines: LineMap, hint: str | None = None, at: Path_ = ()) -> M:
    """``model`` validated from parsed YAML ``data`` (found at ``at`` in the file); see :func:`validation_error`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, model, error, file=file, lines=lines, hint=hint, at=at) from None


def validation_error(exc: ValidationError, model: type[BaseModel], error: type[ProcevalError], *,
                     file: str | Path | None, lines: LineMap, hint: str | None = None,
                     at: Path_ = ()) -> ProcevalError:
    """The one error shown for a YAML file that ``model`` rejected (templates, study files, study configs,
    mappings): its first problem with line and field, "did you mean" for an unknown key, and how many more.
    ``at`` is where in the file the validated section sits (lines and fields are named from the top).

    A mistyped key also makes a required key "missing": the unknown key is reported first, it is the cause.
    """
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    loc: Path_ = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden" and loc:
        known = known_keys(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        message = f"unknown key {loc[-1]!r}"
        hint = f"did you mean {close[0]!r}?" if close else f"known keys here: {', '.join(sorted(known))}"
    elif first["type"] == "missing":
        message = "required key is missing"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    where = (*at, *loc)
    return error(message, file=file, line=lines.line_for(where), field=format_loc(where) if where else None,
                 hint=hint)


def known_keys(model: type[BaseModel], loc: Path_) -> list[str]:
    """The keys (aliases where a field has one) that ``model`` allows at ``loc``; list indices are skipped."""
    for part in loc:
        info = next((i for name, i in model.model_fields.items() if part in (name, i.alias)), None)
        found = _model_in(info.annotation) if info is not None else None
        if found is not None:
            model = found
    return [info.alias or name for name, info in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None
