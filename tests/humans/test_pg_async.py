"""The hot requests on PostgreSQL run on the event loop (asyncpg): an answer is stored once."""

from __future__ import annotations

import threading

import httpx

from proceval.dataset import Dataset
from proceval.humans import StudyConfig, create_app
from proceval.humans.storage import StudyStore

from .conftest import LiveServer, participant

PROLIFIC = "PROLIFIC_PID=5f0c0ffee0000000000000b2&STUDY_ID=study42&SESSION_ID=sess0002"


def test_concurrent_double_submits_store_one_answer_on_the_event_loop(dataset: Dataset, config: StudyConfig,
                                                                     postgres_url: str) -> None:
    app = create_app(dataset, config, postgres_url)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as client:
        p = participant(client)
        page = p.step(p.step(p.step(p.open(PROLIFIC))))  # consent, instructions, check → first trial
        assert "Question 1 of" in page.text
        form = dict(page.hidden, response=page.radios()["response"][0])
        first = form["response"]
        n = 8
        barrier = threading.Barrier(n)
        statuses: list[int] = []

        def submit() -> None:  # the same form sent eight times at once (an impatient double, triple... click)
            barrier.wait()
            statuses.append(client.post("/study/trial", data=form).status_code)

        threads = [threading.Thread(target=submit) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [303] * n
        page = p.current()
        assert "Question 2 of" in page.text
        # the next answer goes through too, and the pages came from the async pool
        form = dict(page.hidden, response=page.radios()["response"][0])
        assert client.post("/study/trial", data=form).status_code == 303
        assert "Question 3 of" in p.current().text
        assert app.state.hot.statements >= n + 4
    store = StudyStore(postgres_url)
    answers = list(store.iter_answers())
    store.close()
    assert [a["position"] for a in answers] == [0, 1]
    assert answers[0]["response"] == first
    assert all(a["rt_ms"] is not None and a["rt_ms"] >= 0 for a in answers)


def test_an_answer_from_a_known_session_takes_one_statement_and_a_replaced_token_none(
        dataset: Dataset, config: StudyConfig, postgres_url: str) -> None:
    """The server process remembers sessions in their trials, so an answer is stored without a lookup first; the
    statement itself checks the token, so a cookie replaced in another browser stores nothing, remembered or not."""
    app = create_app(dataset, config, postgres_url)
    prolific = PROLIFIC.replace("b2", "b3")
    with LiveServer(app) as server, httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as first:
        p = participant(first)
        page = p.step(p.step(p.step(p.open(prolific))))  # consent, instructions, check → first trial
        page = p.step(page)  # one answer: the session is now known to the server
        assert "Question 2 of" in page.text
        form = dict(page.hidden, response=page.radios()["response"][0])
        before = app.state.hot.statements
        assert first.post("/study/trial", data=form).status_code == 303
        assert app.state.hot.statements - before == 1  # the answer alone, no session lookup
        page = p.current()
        assert "Question 3 of" in page.text
        stale_form = dict(page.hidden, response=page.radios()["response"][0])
        # the same Prolific attempt opened in a second browser replaces the first browser's token
        with httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as second:
            assert "Question 3 of" in participant(second).open(prolific).text
        refused = first.post("/study/trial", data=stale_form)
        assert refused.status_code == 403
    store = StudyStore(postgres_url)
    answers = list(store.iter_answers())
    store.close()
    assert [a["position"] for a in answers] == [0, 1]  # the refused answer stored nothing
