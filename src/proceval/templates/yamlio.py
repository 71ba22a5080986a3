"""YAML loading that remembers where every key came from, so errors can name the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from proceval.errors import ProcevalError

Path_ = tuple[str | int, ...]


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

    Duplicate keys are an error (PyYAML would silently keep the last one).
    """
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
    return _convert(root, (), lines, file, error), lines


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
