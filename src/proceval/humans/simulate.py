"""A scripted participant that clicks through the study's plain HTML forms over HTTP.

Used by the tests, the crash test and ``benchmarks/study_load.py``, and handy for smoke-testing a deployment
(``httpx.Client(base_url=...)`` against a pilot server; the client must not follow redirects itself, so
that the 303 acknowledging an answer is seen). It reads only what a browser
would: the forms on each page.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from typing import Any, Protocol

_HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
_RADIO = re.compile(r'<input type="radio" id="[^"]*" name="([a-z0-9_]+)" value="([^"]*)"')
_ACTION = re.compile(r'<form method="post" action="(/study/[a-z]+)">')


class _Client(Protocol):
    def get(self, url: str, **kwargs: Any) -> Any: ...
    def post(self, url: str, **kwargs: Any) -> Any: ...


@dataclass
class Page:
    status: int
    text: str
    url: str

    @property
    def action(self) -> str | None:
        match = _ACTION.search(self.text)
        return match.group(1) if match else None

    @property
    def hidden(self) -> dict[str, str]:
        return {k: unescape(v) for k, v in _HIDDEN.findall(self.text)}

    def radios(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for name, value in _RADIO.findall(self.text):
            groups.setdefault(name, []).append(unescape(value))
        return groups


@dataclass
class Acknowledged:
    """An answer the server confirmed (a 303 to the next page): the crash test checks each is stored once."""

    position: int
    item_id: str
    key: str
    response: str
    latency_s: float


@dataclass
class SimulatedParticipant:
    client: _Client
    rng: random.Random = field(default_factory=random.Random)
    check_answers: dict[int, str] = field(default_factory=dict)  # comprehension question -> option key
    choose: Callable[[Page, list[str]], str] | None = None
    acknowledged: list[Acknowledged] = field(default_factory=list)
    retries: int = 0

    def open(self, query: str = "") -> Page:
        return self._follow(self.client.get("/" + (f"?{query}" if query else "")))

    def current(self) -> Page:
        return self._follow(self.client.get("/study"))

    def _follow(self, response: Any) -> Page:
        """Follow the app's 303s by hand (clients must not follow redirects, so a 303 is seen as an ack)."""
        for _ in range(5):
            if response.status_code not in (302, 303):
                break
            location = response.headers["location"]
            if not location.startswith("/"):  # leaving the study (never the case for the app's own pages)
                break
            response = self.client.get(location)
        return Page(response.status_code, response.text, str(response.url))

    def step(self, page: Page) -> Page:
        """Submit the form on ``page`` the way a participant would."""
        action = page.action
        if action is None:
            raise RuntimeError(f"no form on the page (status {page.status})")
        data: dict[str, str] = dict(page.hidden)
        if action == "/study/consent":
            data["consent"] = "agree"
        elif action == "/study/check":
            for name, values in page.radios().items():
                index = int(name[1:])
                data[name] = self.check_answers.get(index, values[0])
        elif action == "/study/trial":
            options = page.radios().get("response") or ["free text answer"]
            data["response"] = self.choose(page, options) if self.choose else self.rng.choice(options)
            started = time.perf_counter()
            response = self.client.post(action, data=data)
            latency = time.perf_counter() - started
            if response.status_code == 303:
                self.acknowledged.append(Acknowledged(int(data["position"]), data["item_id"], data["key"],
                                                      data["response"], latency))
            return self._follow(response)
        return self._follow(self.client.post(action, data=data))

    def run(self, query: str = "", max_steps: int = 1000) -> Page:
        """From the study link to the completion page (or wherever the study ends)."""
        page = self.open(query)
        for _ in range(max_steps):
            if page.action is None:
                return page
            page = self.step(page)
        raise RuntimeError("the study did not end")
