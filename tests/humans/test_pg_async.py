"""The hot requests on PostgreSQL run on the event loop (asyncpg): an answer is stored once."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from proceval.dataset import Dataset
from proceval.humans import StudyConfig, create_app, pg_async
from proceval.humans.storage import StudyStore

from .conftest import LiveServer, free_port, participant

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


def at_second_trial(client: httpx.Client, prolific: str) -> tuple[Any, dict[str, str]]:
    """A participant past one answer (so the server process knows the session), and its second trial's form."""
    p = participant(client)
    page = p.step(p.step(p.step(p.open(prolific))))  # consent, instructions, check → first trial
    page = p.step(page)
    assert "Question 2 of" in page.text
    return p, dict(page.hidden, response=page.radios()["response"][0])


def test_an_answer_and_its_next_page_take_one_statement_and_a_replaced_token_none(
        dataset: Dataset, config: StudyConfig, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server process remembers sessions in their trials, so an answer is stored without a lookup first, and
    the page its redirect leads to is shown from the session as the answer's statement left it. Any other page
    (a reload, /study without that redirect, a page asked for too late) is looked up. The statement itself checks
    the token, so a cookie replaced in another browser stores nothing, remembered or not."""
    app = create_app(dataset, config, postgres_url)
    hot = app.state.hot
    prolific = PROLIFIC.replace("b2", "b3")
    with LiveServer(app) as server, httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as first:
        p, form = at_second_trial(first, prolific)
        before = hot.statements
        answered = first.post("/study/trial", data=form)
        assert answered.status_code == 303
        redirect = answered.headers["location"]
        assert redirect.startswith("/study?")
        page = first.get(redirect)
        assert "Question 3 of" in page.text
        assert hot.statements - before == 1  # the answer alone: no lookup before it, none for its page
        assert "Question 3 of" in first.get(redirect).text  # the same redirect again (a reload) is looked up
        assert "Question 3 of" in p.current().text  # and so is /study
        assert hot.statements - before == 3
        current = p.current()
        stale_form = dict(current.hidden, response=current.radios()["response"][0])
        # the same Prolific attempt opened in a second browser replaces the first browser's token
        with httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as second:
            assert "Question 3 of" in participant(second).open(prolific).text
        assert first.get("/study").status_code == 403
        refused = first.post("/study/trial", data=stale_form)
        assert refused.status_code == 403

        # another answer's redirect, or the right one asked for too late (FRESH_SECONDS), is looked up
        with httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as third:
            p, form = at_second_trial(third, PROLIFIC.replace("b2", "b5"))
            redirect = third.post("/study/trial", data=form).headers["location"]
            before = hot.statements
            assert "Question 3 of" in third.get(redirect + "0").text
            assert hot.statements - before == 1
            current = p.current()
            monkeypatch.setattr(pg_async, "FRESH_SECONDS", 0.0)
            redirect = third.post("/study/trial", data=dict(current.hidden, response=current.radios()["response"][0])
                                  ).headers["location"]
            before = hot.statements
            assert "Question 4 of" in third.get(redirect).text
            assert hot.statements - before == 1
    store = StudyStore(postgres_url)
    answers = list(store.iter_answers())
    store.close()
    assert sorted(a["position"] for a in answers) == [0, 0, 1, 1, 2]  # the refused answer stored nothing


class Outage:
    """A TCP relay between the app and PostgreSQL that can be cut (every connection closed, new ones refused)
    and restored on the same port: the database unreachable, as the app sees it when a network or server
    goes away."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self.listener: socket.socket | None = None
        self.open_sockets: list[socket.socket] = []

    def restore(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        assert self.listener is not None
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
        self.listener.close()
        for sock in self.open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.open_sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(self.target)
            self.open_sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def test_an_unreachable_database_gets_a_503_page_within_seconds_and_the_study_goes_on_after(
        dataset: Dataset, config: StudyConfig, postgres_url: str) -> None:
    parts = urlsplit(postgres_url)
    outage = Outage((parts.hostname or "127.0.0.1", parts.port or 5432))
    outage.restore()
    netloc = parts.netloc.rsplit("@", 1)[0] + f"@127.0.0.1:{outage.port}"
    app = create_app(dataset, config, urlunsplit(parts._replace(netloc=netloc)))
    prolific = PROLIFIC.replace("b2", "b4")
    with LiveServer(app) as server, httpx.Client(base_url=server.url, follow_redirects=False, timeout=60) as client:
        p, form = at_second_trial(client, prolific)
        outage.cut()
        for method, path, data in (("POST", "/study/trial", form), ("GET", "/study", None)):
            start = time.monotonic()
            response = client.request(method, path, data=data)
            assert response.status_code == 503, (method, response.status_code, response.text[-300:])
            assert "cannot reach its database" in response.text
            assert time.monotonic() - start < 10
        outage.restore()
        assert client.post("/study/trial", data=form).status_code == 303  # the same answer, sent again
        assert "Question 3 of" in p.current().text
    store = StudyStore(postgres_url)
    answers = list(store.iter_answers())
    store.close()
    assert [a["position"] for a in answers] == [0, 1]
