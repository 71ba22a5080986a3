"""Security: sessions are private, forms need CSRF tokens, the admin needs its token, text is escaped,
malformed or oversized input is refused with nothing stored."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proceval.humans import StudyConfig, create_app
from proceval.humans.app import SESSION_COOKIE

from .conftest import FULL_CONFIG, client_for, csrf_of, make_dataset, participant

TOKEN = FULL_CONFIG["admin_token"]
ENV_TOKEN = "from-the-environment-u8Xq2Lk5Vn7Rp3Tz9Wc4Ym6"


def at_first_trial(client):  # type: ignore[no-untyped-def]
    p = participant(client)
    page = p.step(p.step(p.step(p.open())))
    assert page.action == "/study/trial"
    return p, page


def stored(client) -> int:  # type: ignore[no-untyped-def]
    return int(client.app.state.study.store.count_answers())


def test_a_participant_cannot_act_in_another_participants_session(study) -> None:  # type: ignore[no-untyped-def]
    _alice, alice_page = at_first_trial(study)
    alice_cookie = study.cookies.get(SESSION_COOKIE)
    study.cookies.clear()
    _bob, _bob_page = at_first_trial(study)
    # Bob submits Alice's form (her CSRF token, her item) with his own cookie: refused, nothing stored
    response = study.post("/study/trial", data=dict(alice_page.hidden, response="a"))
    assert response.status_code in (400, 403)
    # without any cookie there is no session at all
    study.cookies.clear()
    assert study.get("/study").status_code == 403
    assert study.post("/study/trial", data=dict(alice_page.hidden, response="a")).status_code == 403
    # a guessed cookie value is just as useless
    study.cookies.set(SESSION_COOKIE, alice_cookie[:-2] + "xx")
    assert study.get("/study").status_code == 403
    assert stored(study) == 0


def test_forms_without_or_with_a_wrong_csrf_token_are_refused(study) -> None:  # type: ignore[no-untyped-def]
    page = participant(study).open()
    assert study.post("/study/consent", data={"consent": "agree"}).status_code == 403
    assert study.post("/study/consent", data={"consent": "agree", "csrf": "forged"}).status_code == 403
    assert study.app.state.study.store.sessions()[0]["stage"] == "consent"
    assert study.post("/study/consent", data={"consent": "agree", "csrf": csrf_of(page.text)}).status_code == 303


def test_the_session_cookie_is_httponly_and_samesite(study) -> None:  # type: ignore[no-untyped-def]
    response = study.get("/")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "content-security-policy" in response.headers


def test_admin_needs_the_right_token(study) -> None:  # type: ignore[no-untyped-def]
    assert study.get("/admin").status_code == 401
    assert study.get("/admin/export.csv").status_code == 401
    assert study.get("/admin", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert study.post("/admin/login", data={"token": "wrong"}).status_code == 401
    assert study.post("/admin/login", data={}).status_code == 401
    assert study.get("/admin", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    response = study.post("/admin/login", data={"token": TOKEN})
    assert response.status_code == 303 and response.headers["location"] == "/admin"
    cookie = response.headers["set-cookie"]
    assert TOKEN not in cookie and "samesite=strict" in cookie.lower()
    page = study.get("/admin")
    assert page.status_code == 200 and "Lists" in page.text and TOKEN not in page.text
    assert study.get("/admin/export.jsonl").status_code == 200
    study.post("/admin/logout")
    assert study.get("/admin").status_code == 401


def test_admin_is_off_without_a_token(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROCEVAL_ADMIN_TOKEN", raising=False)
    with client_for(create_app(make_dataset(tmp_path / "d"), StudyConfig(), sqlite_url)) as client:
        response = client.get("/admin", headers={"Authorization": "Bearer "})
        assert response.status_code == 403 and "PROCEVAL_ADMIN_TOKEN" in response.text


def test_the_environment_token_wins_over_the_file(tmp_path: Path, sqlite_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCEVAL_ADMIN_TOKEN", ENV_TOKEN)
    app = create_app(make_dataset(tmp_path / "d"), StudyConfig.model_validate(FULL_CONFIG), sqlite_url)
    with client_for(app) as client:
        assert client.get("/admin", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
        assert client.get("/admin", headers={"Authorization": f"Bearer {ENV_TOKEN}"}).status_code == 200


def test_item_and_config_text_is_escaped(tmp_path: Path, sqlite_url: str) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    ds = make_dataset(tmp_path / "d", n_scenarios=1, rating=False, text=evil)
    config = StudyConfig.model_validate({**FULL_CONFIG, "consent": evil, "attention_checks": []})
    with client_for(create_app(ds, config, sqlite_url)) as client:
        p = participant(client)
        page = p.open()
        assert "<script>" not in page.text and "&lt;script&gt;" in page.text
        page = p.step(p.step(p.step(page)))
        assert page.action == "/study/trial"
        assert "<script>" not in page.text and "<img" not in page.text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text


def test_participant_comments_are_stored_verbatim_as_data(study) -> None:  # type: ignore[no-untyped-def]
    _, page = at_first_trial(study)
    comment = "<b>bold</b> & \"quotes\"\nsecond line"
    data = dict(page.hidden, response=page.radios()["response"][0], comment=comment)
    assert study.post("/study/trial", data=data).status_code == 303
    answers = list(study.app.state.study.store.iter_answers())
    assert answers[0]["comment"] == comment


@pytest.mark.parametrize("change, message", [
    ({"item_id": "no-such-item"}, "Unknown item"),
    ({"response": "z"}, "not on offer|whole number from 1 to 5"),
    ({"position": "7"}, "That item is not the one"),
    ({"position": "999"}, "no trial number"),
    ({"position": "-1"}, "no trial number"),
    ({"position": "one"}, "whole number"),
    ({"key": "short"}, "key is malformed"),
    ({"key": "has spaces in it 123456"}, "key is malformed"),
    ({"comment": "x" * 1001}, "too long"),
    ({"response": "a" * 300}, ""),
])
def test_malformed_fields_are_refused_and_nothing_is_stored(study, change: dict[str, str], message: str) -> None:  # type: ignore[no-untyped-def]
    _, page = at_first_trial(study)
    data = dict(page.hidden, response=page.radios()["response"][0])
    data.update(change)
    response = study.post("/study/trial", data=data)
    assert 400 <= response.status_code < 500
    assert re.search(message, response.text)
    assert stored(study) == 0
    assert "Question 1 of" in study.get("/study").text


def test_oversized_requests_are_refused_before_reading_them(study) -> None:  # type: ignore[no-untyped-def]
    _, page = at_first_trial(study)
    data = dict(page.hidden, response="a", comment="x" * 100_000)
    response = study.post("/study/trial", data=data)
    assert response.status_code == 413
    assert stored(study) == 0


def test_malformed_prolific_parameters_are_refused(study) -> None:  # type: ignore[no-untyped-def]
    response = study.get("/?PROLIFIC_PID=<script>&STUDY_ID=x")
    assert response.status_code == 400 and "<script>" not in response.text
    assert study.app.state.study.store.sessions() == []


def test_demographics_reject_unknown_fields_and_values_out_of_range(study) -> None:  # type: ignore[no-untyped-def]
    p, page = at_first_trial(study)
    while page.action == "/study/trial":
        page = p.step(page)
    csrf = csrf_of(page.text)
    for data, message in [({"age": "12"}, "between 18 and 120"), ({"age": "old"}, "whole number"),
                          ({"gender": "robot"}, "not on offer"), ({"email": "a@b.c"}, "Unknown field")]:
        response = study.post("/study/demographics", data={"csrf": csrf, **data})
        assert response.status_code == 400 and message in response.text
    assert study.app.state.study.store.sessions()[0]["stage"] == "demographics"


def test_attention_checks_are_not_given_away_by_the_page_source(study) -> None:  # type: ignore[no-untyped-def]
    p, page = at_first_trial(study)
    seen_check = False
    while page.action == "/study/trial":
        assert "attn" not in page.text
        assert re.search(r'name="item_id" value="[0-9a-f]{16}"', page.text)
        seen_check |= "Please choose" in page.text
        page = p.step(page)
    assert seen_check
    kinds = {a["item_id"]: a["kind"] for a in study.app.state.study.store.iter_answers()}
    assert kinds["attn-blue"] == "check"  # stored (and exported) under the id the config gives it
