"""One small registry for every extension point: name → factory.

A registry knows its built-ins lazily (a ``"module:attribute"`` reference is imported only when its name is
asked for, and a loader function can list names found elsewhere, e.g. the built-in template files), takes
plugins from the ``proceval.<kind>`` entry-point group, and answers an unknown name with one
:class:`UnknownName` error that suggests the nearest known names. A plugin that fails to load is reported by
its name (a warning when the plugins are read, :attr:`Registry.broken`, and the error when that name is asked for)
and hides no other. An entry point names a factory, or a module whose import registers its entries (the
decorators, e.g. ``@register_analysis``).

A registry also reads like a dict (``REG[name]``, ``name in REG``, ``del REG[name]``, ``dict(REG)``), which is how
older code and tests use the tables it replaced.

    SOLVERS = Registry("solvers", builtins={"program": "proceval.solvers.program:ProgramSolver"})

    @SOLVERS.register("my-solver")
    class MySolver: ...

    SOLVERS.get("my-solver")   # the class; SOLVERS.create("my-solver", ...) calls it
"""

from __future__ import annotations

import difflib
import importlib
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
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


def load_entry_points(group: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Load every entry point of ``group``: ``(name → loaded object, name → why it failed)``.

    A plugin that fails to load is reported by name in a warning and skipped; the plugins after it still load.
    """
    loaded: dict[str, Any] = {}
    broken: dict[str, str] = {}
    for ep in entry_points(group=group):
        try:
            loaded[ep.name] = ep.load()
        except Exception as exc:  # any error of a third party's import: it must not hide the other plugins
            broken[ep.name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"plugin {ep.name!r} ({ep.value}, group {group}) failed to load: {broken[ep.name]}; "
                          "reinstall or remove the package that provides it", stacklevel=3)
    return loaded, broken


class Registry(Generic[T]):
    """Names of one kind (``"tasks"``, ``"solvers"``, ``"scorers"``) → factories of ``T``.

    ``builtins`` maps names to ``"module:attribute"`` references, imported on first use; ``loaders`` are
    functions (or ``"module:attribute"`` references to them, so a lower layer can own a registry that a higher
    one fills) returning more such names → references or factories, called once on the first lookup.
    """

    def __init__(self, kind: str, *, builtins: Mapping[str, str] | None = None,
                 loaders: Iterable[str | Callable[[], Mapping[str, str | T]]] = (),
                 error: type[ProcevalError] = UnknownName, singular: str | None = None) -> None:
        self.kind = kind
        self.singular = singular or kind.removesuffix("s")
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
        loaded, broken = load_entry_points(self.group)
        self.broken.update(broken)
        for name, value in loaded.items():
            if not isinstance(value, types.ModuleType):  # a module registered its entries as it was imported
                self._entries.setdefault(name, value)  # a built-in or explicit registration wins over a plugin

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
            raise PluginError(f"the {self.singular} plugin {name!r} failed to load: {self.broken[name]}",
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
        return f"unknown {self.singular} {name!r}{suggestion}"

    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the factory registered as ``name``."""
        factory: Any = self.get(name)
        return factory(*args, **kwargs)

    # -- the dict view ----------------------------------------------------------------------------
    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __setitem__(self, name: str, factory: T) -> None:
        self.register(name, factory)

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def keys(self) -> list[str]:
        return self.names()

    def items(self) -> list[tuple[str, T]]:
        return [(name, self.get(name)) for name in self.names()]

    def pop(self, name: str, *default: Any) -> Any:
        """Forget ``name`` (a test's registration, say); its entry, or ``default`` when there is none."""
        return self._entries.pop(name, *default)

    def snapshot(self) -> dict[str, str | T]:
        """Every entry as it stands (lazy ones unimported), for :meth:`restore`."""
        self._load()
        return dict(self._entries)

    def restore(self, entries: Mapping[str, str | T]) -> None:
        """Go back to a :meth:`snapshot` (what a test registered is forgotten)."""
        self._entries = dict(entries)

    def rescan(self) -> None:
        """Read the entry points again on the next lookup (a plugin installed since the first one)."""
        self._loaded = False
        self.broken.clear()
