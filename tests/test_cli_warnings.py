"""The command line shows proceval's own warnings as one plain line, and other libraries' as Python does."""

from __future__ import annotations

import pytest

from proceval.cli.main import PACKAGE_DIR, _show_warning


def test_own_warnings_are_one_plain_line_and_others_keep_their_origin(capsys: pytest.CaptureFixture[str]) -> None:
    _show_warning(UserWarning("3 item ids were skipped"), UserWarning, str(PACKAGE_DIR / "run" / "runner.py"), 10)
    _show_warning(RuntimeWarning("overflow in exp"), RuntimeWarning, "/elsewhere/numpy/core.py", 7)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "warning: 3 item ids were skipped"
    assert "/elsewhere/numpy/core.py:7: RuntimeWarning: overflow in exp" in err[1]
