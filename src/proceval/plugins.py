"""Entry-point plugins: every extension point loads its ``proceval.*`` group through :func:`load_entry_points`."""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points
from typing import Any


def load_entry_points(group: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Load every entry point of ``group``: ``(name → loaded object, name → why it failed)``.

    A plugin that fails to load is reported by name in a warning and skipped; the plugins after it still load.
    """
    loaded: dict[str, Any] = {}
    broken: dict[str, str] = {}
    for entry in entry_points(group=group):
        try:
            loaded[entry.name] = entry.load()
        except Exception as exc:  # any error of a third party's import: it must not hide the other plugins
            broken[entry.name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"plugin {entry.name!r} ({entry.value}, group {group}) failed to load: "
                          f"{broken[entry.name]}; reinstall or remove the package that provides it",
                          stacklevel=2)
    return loaded, broken
