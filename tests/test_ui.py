"""The one progress display every long job uses: drawn on terminals, silent elsewhere."""

from __future__ import annotations

import io

import pytest

from proceval.ui import progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_shows_counts_status_and_sub_bars_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    with progress_bar("run", total=4, unit="items") as bar:
        bar.advance(3)
        bar.status("0.50 items/s  invalid 1")
        step = bar.add("embedding", total=2)
        step.advance(2)
    text = screen.getvalue()
    assert "run" in text and "3/4" in text and "items" in text and "invalid 1" in text
    assert "embedding" in text and "2/2" in text


def test_nothing_is_drawn_off_a_terminal_or_when_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    with progress_bar("run", total=2) as bar:
        bar.advance()
        bar.add("step", total=1).advance()
        bar.status("quiet")
    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    with progress_bar("run", total=2, enabled=False) as bar:
        bar.advance()
    assert pipe.getvalue() == "" and screen.getvalue() == ""
