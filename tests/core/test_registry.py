"""The generic registry: did-you-mean, lazy built-ins, entry-point plugins (a broken one hides no other)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from proceval.core.registry import PluginError, Registry, UnknownName
from proceval.errors import ProcevalError


def test_unknown_name_suggests_the_nearest_and_lists_all() -> None:
    registry: Registry[object] = Registry("solvers", builtins={"calculator": "fractions:Fraction"})
    registry.register("model", object)
    with pytest.raises(UnknownName) as info:
        registry.get("calculater")
    assert "did you mean 'calculator'?" in info.value.message
    assert "calculator, model" in str(info.value.hint)
    with pytest.raises(UnknownName) as info:
        registry.get("zzz")
    assert "did you mean" not in info.value.message
    assert isinstance(info.value, ProcevalError)  # the CLI prints it without a traceback


def test_builtins_are_imported_only_when_asked_for() -> None:
    module = "xml.dom.minidom"
    sys.modules.pop(module, None)
    registry: Registry[object] = Registry("tasks", builtins={"parse": f"{module}:parseString"})
    assert registry.names() == ["parse"] and module not in sys.modules
    assert registry.get("parse") is sys.modules[module].parseString  # type: ignore[attr-defined]


def test_decorator_and_loader_registrations() -> None:
    registry: Registry[object] = Registry("scorers", loaders=[lambda: {"found": "fractions:Fraction"}])

    @registry.register("mine")
    class Mine:
        pass

    assert registry.names() == ["found", "mine"]
    assert registry.create("mine").__class__ is Mine
    assert registry.create("found", 1, 2) == 0.5


def _plugin(root: Path, dist: str, group: str, entries: dict[str, str], module: str, code: str) -> None:
    """A tiny installed distribution: a module on ``root`` and a dist-info naming its entry points."""
    (root / f"{module}.py").write_text(code, encoding="utf-8")
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n", encoding="utf-8")
    lines = "\n".join(f"{name} = {value}" for name, value in entries.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}\n", encoding="utf-8")


def test_entry_point_plugins_load_and_a_broken_one_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    _plugin(tmp_path, "good_plugin", "proceval.testkind", {"good": "good_mod:VALUE", "bad": "bad_mod:VALUE"},
            "good_mod", "VALUE = 42\n")
    (tmp_path / "bad_mod.py").write_text("raise RuntimeError('broken on import')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry: Registry[object] = Registry("testkind", builtins={"builtin": "fractions:Fraction"})
    with pytest.warns(UserWarning, match=r"plugin 'bad' \(bad_mod:VALUE, group proceval\.testkind\) failed to load"):
        assert registry.get("good") == 42  # the broken plugin hides no other
    assert registry.names() == ["builtin", "good"]
    assert "bad" in registry.broken and "broken on import" in registry.broken["bad"]
    with pytest.raises(PluginError) as info:
        registry.get("bad")
    assert "'bad'" in info.value.message and "broken on import" in info.value.message


def test_a_plugin_task_is_generated_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from proceval.cli.main import main
    from proceval.dataset import Dataset
    from proceval.tasks import TASKS

    code = '''
from proceval.core import Task, make_item

class Echo(Task):
    name = "echo"

    def item(self, seed, index):
        return make_item(self.name, self.variables(seed, index), f"Say {index}.", str(index))
'''
    _plugin(tmp_path, "echo_plugin", "proceval.tasks", {"echo": "echo_mod:Echo"}, "echo_mod", code)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(TASKS, "_entries", dict(TASKS._entries))
    monkeypatch.setattr(TASKS, "_loaded", False)  # look at the entry points again
    assert main(["generate", "echo", "--n", "3", "--out", str(tmp_path / "echo")]) == 0
    assert [i.question for i in Dataset.load(tmp_path / "echo").items] == ["Say 0.", "Say 1.", "Say 2."]


def test_a_registry_reads_like_a_dict() -> None:
    registry: Registry[object] = Registry("analyses", singular="analysis", builtins={"half": "fractions:Fraction"})
    registry["mine"] = int
    assert sorted(registry) == ["half", "mine"] and len(registry) == 2 and "mine" in registry
    assert registry["mine"] is int and dict(registry)["half"](1, 2) == 0.5
    saved = registry.snapshot()
    del registry["mine"]
    assert registry.pop("mine", None) is None and list(registry) == ["half"]
    registry.restore(saved)
    assert registry.keys() == ["half", "mine"]
    with pytest.raises(UnknownName, match="unknown analysis 'hlf'; did you mean 'half'"):
        registry["hlf"]
