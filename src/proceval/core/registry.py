"""One small registry for every extension point: name → factory.

A registry knows its built-ins lazily (a ``"module:attribute"`` reference is imported only when its name is
asked for, and a loader function can list names found elsewhere, e.g. the built-in template files), takes
plugins from the ``proceval.<kind>`` entry-point group, and answers an unknown name with one
:class:`UnknownName` error that suggests the nearest known names. A plugin that fails to load is reported by
its name (in :attr:`Registry.broken`, and as the error when that name is asked for) and hides no other.

    SOLVERS = Registry("solvers", builtins={"program": "proceval.solvers.program:ProgramSolver"})

    @SOLVERS.register("my-solver")
    class MySolver: ...

    SOLVERS.get("my-solver")   # the class; SOLVERS.create("my-solver", ...) calls it
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar, overload

from proceval.errors import ProcevalError

T = TypeVar("T")


class UnknownName(ProcevalError):
    """A name no registry entry has: the message lists the nearest known names."""


class PluginError(ProcevalError):
    """A plugin that is installed under an entry point but cannot be loaded."""


def load_reference(reference: str) -> Any:
    """``"package.module:attribute"`` → the attribute (imported now)."""
    module, _, attribute = reference.partition(":")
    value: Any = importlib.import_module(module)
    for part in attribute.split(".") if attribute else []:
        value = getattr(value, part)
    return value


class Registry(Generic[T]):
    """Names of one kind (``"tasks"``, ``"solvers"``, ``"scorers"``) → factories of ``T``.

    ``builtins`` maps names to ``"module:attribute"`` references, imported on first use; ``loaders`` are
    functions (or ``"module:attribute"`` references to them, so a lower layer can own a registry that a higher
    one fills) returning more such names → references or factories, called once on the first lookup.
    """

    def __init__(self, kind: str, *, builtins: Mapping[str, str] | None = None,
                 loaders: Iterable[str | Callable[[], Mapping[str, str | T]]] = (),
                 error: type[ProcevalError] = UnknownName) -> None:
        self.kind = kind
        self.group = f"proceval.{kind}"
        self._entries: dict[str, str | T] = dict(builtins or {})
        self._loaders = list(loaders)
        self._loaded = False
        self._error = error
        self.broken: dict[str, str] = {}  # plugin name → why it failed to load

    # -- registering ----------------------------------------------------------------------------
    @overload
    def register(self, name: str) -> Callable[[T], T]: ...
    @overload
    def register(self, name: str, factory: T) -> T: ...

    def register(self, name: str, factory: T | None = None) -> Any:
        """Register ``factory`` under ``name``; without ``factory``, a decorator. A later registration of the
        same name replaces the earlier one (a user's task may shadow a built-in)."""
        if factory is not None:
            self._entries[name] = factory
            return factory

        def decorate(value: T) -> T:
            self._entries[name] = value
            return value

        return decorate

    # -- looking up -----------------------------------------------------------------------------
    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for loader in self._loaders:
            found = (load_reference(loader) if isinstance(loader, str) else loader)()
            for name, entry in found.items():
                self._entries.setdefault(name, entry)
        for ep in entry_points(group=self.group):
            if ep.name in self._entries:
                continue  # a built-in or an explicit registration wins over a plugin of the same name
            try:
                self._entries[ep.name] = ep.load()
            except Exception as exc:  # a broken plugin is reported by name and must not hide the others
                self.broken[ep.name] = f"{ep.value}: {type(exc).__name__}: {exc}"

    def names(self) -> list[str]:
        """Every known name (built-in, loaded, registered, plugins that loaded), sorted."""
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def get(self, name: str) -> T:
        """The factory registered as ``name``; an :class:`UnknownName` (or the registry's error type) that
        suggests the nearest names, or a :class:`PluginError` naming the plugin that failed to load."""
        self._load()
        if name in self.broken and name not in self._entries:
            raise PluginError(f"the {self.kind} plugin {name!r} failed to load ({self.broken[name]})",
                              hint=f"reinstall or remove the package that provides it (entry-point group "
                                   f"{self.group!r})")
        if name not in self._entries:
            raise self._error(self.unknown_message(name), hint=f"known {self.kind}: {', '.join(self.names())}; "
                              f"plugins add {self.kind} under the entry-point group {self.group!r}")
        entry = self._entries[name]
        if isinstance(entry, str):  # a lazy built-in: import it once
            entry = self._entries[name] = load_reference(entry)
        return entry

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6)
        suggestion = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown {self.kind.rstrip('s')} {name!r}{suggestion}"

    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the factory registered as ``name``."""
        factory: Any = self.get(name)
        return factory(*args, **kwargs)
