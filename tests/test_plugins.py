"""Entry-point plugins, found the way a user's installed packages are: a real dist-info on sys.path.

A plugin that fails to load is reported by name and does not hide the plugins listed after it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from proceval.analysis import available_analyses
from proceval.analysis.base import ANALYSES
from proceval.errors import ModelError
from proceval.models.base import PROVIDERS, load_model

GOOD = '''
from types import SimpleNamespace
from proceval.analysis import AnalysisResult, register_analysis

@register_analysis("plugin_count", "Responses counted by a plugin")
def count(data, ctx):
    return AnalysisResult("plugin_count", "Responses counted by a plugin", numbers={"n": len(data.frame)})

def factory(name, **options):
    return SimpleNamespace(name=name, options=options)
'''

# the broken entries come first in the file, so each would hide the good one if loading stopped there
ENTRY_POINTS = '''[proceval.analyses]
broken_analysis = pe_plugin_broken
good_analysis = pe_plugin_good

[proceval.providers]
brokenprov = pe_plugin_broken:factory
goodprov = pe_plugin_good:factory
'''


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "pe_plugin_good.py").write_text(GOOD)
    (tmp_path / "pe_plugin_broken.py").write_text("raise RuntimeError('the plugin has a bug')\n")
    info = tmp_path / "pe_plugins-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pe-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    saved = [ANALYSES.snapshot(), PROVIDERS.snapshot()]  # read before the plugins are installed
    monkeypatch.syspath_prepend(str(tmp_path))
    for registry in (ANALYSES, PROVIDERS):
        registry.rescan()  # installed after the registries were first read
    try:
        yield tmp_path
    finally:  # the registries are process-wide: leave them as the other tests expect
        for registry, before in zip((ANALYSES, PROVIDERS), saved, strict=True):
            registry.restore(before)
            registry.rescan()
        for module in ("pe_plugin_good", "pe_plugin_broken"):
            sys.modules.pop(module, None)


def test_a_broken_analysis_plugin_is_named_and_the_next_one_loads(installed: Path) -> None:
    with pytest.warns(UserWarning, match=r"plugin 'broken_analysis' \(pe_plugin_broken, group proceval\.analyses\)"
                                         r" failed to load: RuntimeError: the plugin has a bug"):
        analyses = available_analyses()
    assert analyses["plugin_count"].title == "Responses counted by a plugin"
    assert {"accuracy", "effects"} <= set(analyses)  # the built-in ones are all still there


def test_a_broken_provider_plugin_is_named_and_the_next_one_loads(installed: Path) -> None:
    with pytest.warns(UserWarning, match="plugin 'brokenprov'"):
        model = load_model("goodprov/some-model", temperature_hint=1)
    assert model.name == "some-model" and model.options == {"temperature_hint": 1}
    assert model.spec == "goodprov/some-model"
    with pytest.raises(  # named again when asked for (warned about once, when the plugins were read)
            ModelError, match="model provider plugin 'brokenprov' failed to load: RuntimeError: the plugin has a bug"):
        load_model("brokenprov/x")
