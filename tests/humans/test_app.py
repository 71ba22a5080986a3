"""The participant's path through the real app (in-process ASGI), on SQLite and PostgreSQL."""

from __future__ import annotations

import gc
import json
import re
from pathlib import Path

import pytest

from proceval.dataset import Dataset
from proceval.errors import HumansError
from proceval.humans import StudyConfig, create_app, export_responses
from proceval.humans.config import load_study_config
from proceval.humans.server import GC_YOUNG_THRESHOLD, AppFactory
from proceval.humans.storage import StudyStore

from .conftest import FULL_CONFIG, client_for, csrf_of, make_dataset, participant

PROLIFIC = "PROLIFIC_PID=5f0c0ffee0000000000000a1&STUDY_ID=study42&SESSION_ID=sess0001"


def test_full_path_from_a_prolific_link_to_completion(dataset: Dataset, config: StudyConfig, db_url: str) -> None:
    app = create_app(dataset, config, db_url)
    with client_for(app) as client:
        p = participant(client)
        page = p.open(PROLIFIC)
        assert "Consent text." in page.text and "Second paragraph." in page.text
        page = p.step(page)
        assert "Instructions" in page.text
        page = p.step(page)
        assert "Check questions" in page.text
        page = p.step(page)
        n_trials = int(re.search(r"Question 1 of (\d+)", page.text).group(1))
        assert n_trials == len(dataset.items) // 2 + 1  # one list of the Latin square plus one attention check
        while page.action == "/study/trial":
            page = p.step(page)
        assert "About you" in page.text
        page = p._follow(client.post("/study/demographics", data={"csrf": csrf_of(page.text), "age": "33",
                                                                  "gender": "woman"}))
        page = p.step(page)  # debrief -> done
        assert "CODE123" in page.text
        assert 'http-equiv="refresh" content="3;url=https://app.prolific.com/submissions/complete?cc=CODE123"' \
            in page.text
    store = StudyStore(db_url)
    [session] = store.sessions()
    assert session["stage"] == "completed" and session["participant"] == "5f0c0ffee0000000000000a1"
    assert session["study_id"] == "study42" and session["prolific_session"] == "sess0001"
    assert json.loads(session["demographics"]) == {"age": 33, "gender": "woman"}
    answers = list(store.iter_answers())
    assert [a["position"] for a in answers] == list(range(n_trials))
    assert {a["kind"] for a in answers} == {"item", "check"}
    assert all(a["rt_ms"] is not None and a["rt_ms"] >= 0 for a in answers)
    store.close()


def test_reload_and_double_submit_never_lose_or_duplicate_answers(study, dataset: Dataset) -> None:  # type: ignore[no-untyped-def]
    p = participant(study)
    page = p.open()
    for _ in range(3):
        page = p.step(page)  # consent, instructions, check
    first = page
    assert p.current().text.count("Question 1 of") == 1  # reload shows the same trial
    form = dict(first.hidden, response=first.radios()["response"][0])
    for _ in range(3):  # double click, then a retry after a lost response
        assert study.post("/study/trial", data=form).status_code == 303
    page = p.current()
    assert "Question 2 of" in page.text
    # the first trial's page submitted again later (browser back) changes nothing
    stale = dict(form, key="another-key-0123456789")
    assert study.post("/study/trial", data=stale).status_code == 303
    store = StudyStore(str(study.app.state.study.store.db_url))
    assert [a["position"] for a in store.iter_answers()] == [0]
    store.close()


def test_declining_consent_ends_politely_and_assigns_nothing(study) -> None:  # type: ignore[no-untyped-def]
    page = participant(study).open()
    response = study.post("/study/consent", data={"csrf": csrf_of(page.text), "consent": "decline"})
    assert response.status_code == 303
    page = study.get("/study")
    assert "You chose not to take part" in page.text and "<form" not in page.text
    sessions = study.app.state.study.store.sessions()
    assert sessions[0]["stage"] == "declined" and sessions[0]["list_index"] is None


def test_failing_the_comprehension_check_allows_limited_retries(study) -> None:  # type: ignore[no-untyped-def]
    p = participant(study)
    p.check_answers = {0: "skip"}
    page = p.step(p.step(p.open()))
    page = p.step(page)  # wrong: back to the instructions
    assert "were not correct" in page.text and "1 more try" in page.text
    page = p.step(p.step(page))  # wrong again: the limit (2) is reached
    assert "comprehension questions were not correct" in page.text
    assert study.app.state.study.store.sessions()[0]["stage"] == "screened_out"
    # coming back does not start the trials
    assert "Question 1" not in p.current().text


def test_returning_participant_resumes_and_a_completed_one_cannot_restart(
        dataset: Dataset, config: StudyConfig, sqlite_url: str) -> None:
    app = create_app(dataset, config, sqlite_url)
    first_browser = client_for(app)
    p = participant(first_browser)
    page = p.open(PROLIFIC)
    for _ in range(5):
        page = p.step(page)  # consent, instructions, check, two trials
    assert "Question 3 of" in page.text
    # same Prolific attempt in another browser (no cookie): resumes at the same trial
    second_browser = client_for(app)
    q = participant(second_browser)
    page = q.open(PROLIFIC)
    assert "Question 3 of" in page.text
    # a different Prolific attempt with the same PID is refused
    other = client_for(app).get("/?" + PROLIFIC.replace("sess0001", "sess0002"))
    assert other.status_code == 409
    page = q.run(PROLIFIC)  # finish in the second browser
    assert "CODE123" in page.text
    assert first_browser.get("/study").status_code == 403  # the first browser's token was replaced
    again = client_for(app).get("/?" + PROLIFIC)
    assert "already completed" in again.text and "<form" not in again.text
    assert len(app.state.study.store.sessions()) == 1


def test_rating_items_show_anchor_labels_and_validate_the_range(tmp_path: Path, sqlite_url: str) -> None:
    ds = make_dataset(tmp_path / "ds", n_scenarios=1)
    config = StudyConfig(shuffle_trials=False)
    with client_for(create_app(ds, config, sqlite_url)) as client:
        p = participant(client)
        page = p.step(p.step(p.open()))
        while "How permissible" not in page.text:
            page = p.step(page)
        assert "not at all" in page.text and "completely" in page.text
        assert page.radios()["response"] == ["1", "2", "3", "4", "5"]
        before = client.app.state.study.store.count_answers()
        for bad in ("0", "6", "2.5", "three", "99999999999"):
            response = client.post("/study/trial", data=dict(page.hidden, response=bad))
            assert response.status_code == 400, bad
            assert "from 1 to 5" in response.text
        assert client.app.state.study.store.count_answers() == before
        assert client.post("/study/trial", data=dict(page.hidden, response="4")).status_code == 303


def test_a_missing_answer_shows_the_trial_again_with_a_message(study) -> None:  # type: ignore[no-untyped-def]
    p = participant(study)
    page = p.step(p.step(p.step(p.open())))
    response = study.post("/study/trial", data=page.hidden)
    assert response.status_code == 400
    assert "Please answer the question" in response.text and "Question 1 of" in response.text


def test_pilot_mode_marks_sessions_and_keeps_them_out_of_exports(
        dataset: Dataset, config: StudyConfig, sqlite_url: str, tmp_path: Path) -> None:
    with client_for(create_app(dataset, config, sqlite_url, pilot=True)) as client:
        p = participant(client)
        page = p.run(PROLIFIC)
        assert "PILOT MODE" in page.text
    sessions = StudyStore(sqlite_url).sessions()
    assert sessions[0]["pilot"] and sessions[0]["participant_key"] is None
    summary = export_responses(sqlite_url, tmp_path / "h.csv")
    assert summary.rows == 0 and summary.excluded["pilot answers"] > 0
    summary = export_responses(sqlite_url, tmp_path / "h.csv", include_pilot=True)
    assert summary.rows == len(dataset.items) // 2


def test_serving_another_dataset_from_the_same_database_is_refused(
        dataset: Dataset, config: StudyConfig, sqlite_url: str, tmp_path: Path) -> None:
    create_app(dataset, config, sqlite_url)
    create_app(dataset, config, sqlite_url)  # a restart is fine
    other = make_dataset(tmp_path / "other", n_scenarios=3)
    with pytest.raises(HumansError, match="different dataset"):
        create_app(other, config, sqlite_url)


def test_study_config_errors_name_the_file_line_and_field(tmp_path: Path) -> None:
    good = tmp_path / "study.yaml"
    import yaml

    good.write_text(yaml.safe_dump(FULL_CONFIG), encoding="utf-8")
    assert load_study_config(good).completion_code == "CODE123"
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: x\nconsent: [unclosed\n", encoding="utf-8")
    with pytest.raises(HumansError, match=r"bad\.yaml:\d+: malformed YAML"):
        load_study_config(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("comprehension:\n  - question: q\n    options: [{key: a, text: A}, {key: b, text: B}]\n"
                     "    answer: c\n", encoding="utf-8")
    with pytest.raises(HumansError, match=r"comprehension\.0: .*answer 'c' is not one of"):
        load_study_config(wrong)
    typo = tmp_path / "typo.yaml"
    typo.write_text("consnet: hello\n", encoding="utf-8")
    with pytest.raises(HumansError, match="consnet"):
        load_study_config(typo)
    with pytest.raises(HumansError, match="no such study config"):
        load_study_config(tmp_path / "missing.yaml")


def test_a_prolific_link_opened_twice_at_once_gives_one_session(dataset: Dataset, config: StudyConfig,
                                                                db_url: str) -> None:
    import threading

    app = create_app(dataset, config, db_url)
    clients = [client_for(app) for _ in range(4)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(clients))

    def open_link(client) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        statuses.append(client.get("/?" + PROLIFIC).status_code)

    threads = [threading.Thread(target=open_link, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [303] * len(clients)
    assert len(app.state.study.store.sessions()) == 1


def test_a_participant_goes_on_after_postgres_drops_the_connections(dataset: Dataset, config: StudyConfig,
                                                                  postgres_url: str) -> None:
    """A database restart closes every pooled connection; the next request still succeeds, nothing is lost."""
    import psycopg

    app = create_app(dataset, config, postgres_url)
    with client_for(app) as client:
        p = participant(client)
        page = p.step(p.step(p.step(p.open(PROLIFIC))))  # consent, instructions, check → first trial
        page = p.step(page)
        plain = postgres_url.split("?")[0].replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as admin:
            killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()
        assert killed is not None and killed[0] >= 1
        while page.action == "/study/trial":
            page = p.step(page)
            assert page.status == 200, page.text[-500:]
        assert "About you" in page.text
    store = StudyStore(postgres_url)
    answers = list(store.iter_answers())
    assert [a["position"] for a in answers] == list(range(len(answers))) and len(answers) >= 2
    store.close()


def test_a_server_process_freezes_what_it_starts_with_and_collects_young_objects_less_often(
        dataset: Dataset, config: StudyConfig, sqlite_url: str) -> None:
    """What each worker process runs before serving: the dataset and templates leave the collector's
    generations, and the youngest generation is collected every GC_YOUNG_THRESHOLD allocations."""
    threshold = gc.get_threshold()
    try:
        app = AppFactory(str(dataset.path), config, sqlite_url, pilot=False)()
        assert gc.get_freeze_count() > 10_000  # the loaded study, not a handful of objects
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD > 700  # 700: CPython's default
        app.state.study.store.close()
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
