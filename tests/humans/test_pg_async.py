"""The hot requests on PostgreSQL run on the event loop (psycopg's async API): an answer is stored once."""

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
        assert app.state.hot.pool.get_stats()["requests_num"] >= n + 4
    store = StudyStore(postgres_url)
    answers = list(store.iter_answers())
    store.close()
    assert [a["position"] for a in answers] == [0, 1]
    assert answers[0]["response"] == first
    assert all(a["rt_ms"] is not None and a["rt_ms"] >= 0 for a in answers)
