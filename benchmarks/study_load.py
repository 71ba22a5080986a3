"""Load benchmark of the web study (loopback only, bounded): answers saved per second and latency.

Starts ``proceval.humans.serve`` in a subprocess (``--workers`` uvicorn processes, as deployed), brings N simulated
participants (asyncio, one HTTP client each) through consent and instructions, then times the trial phase:
each participant posts its answer and loads the next trial page, as a browser would. Two phases, each with
its own N participants:

- ``saturated``: no pause between trials (closed loop), so the server runs flat out: answers/s is its
  capacity. Latency here is mostly queueing: with N requests always in flight it is about N ÷ capacity.
- ``paced``: the N participants together offer ``--rate`` answers/s (each answers every N/rate seconds,
  starting spread over one interval): the latency of an answer at that load. It is measured from the
  moment the answer was *due*, so a server (or load generator) that falls behind is charged for it.

Afterwards the database is checked: every acknowledged answer stored exactly once.

The baseline, measured in the same run against the same server, is the rate of ``GET /healthz`` (no
database, no template) with the same concurrency; ``ratio_to_baseline`` = saturated answers/s ÷ that rate.

The figures of the two backends come from the same run, on the same machine state: ``postgres_to_sqlite``
is PostgreSQL's saturated answers/s ÷ SQLite's. The 1-minute load average is printed beside each backend, and
each phase's CPU per answer (server processes, PostgreSQL's processes, load generator) and ``cores_busy``:
that CPU as a fraction of all the machine's cores over the phase (near 1: the machine itself is the limit).
``cpu_stolen_by_host``: the share of the machine's CPU time the virtual machine's host took during the phase.
``connections_per_worker``: how the phase's participants' connections were shared out among the server
processes (fewest first). ``over_goal`` (paced): the answers slower than the 50 ms goal, and the number of 100 ms
windows they fell in: a few windows holding them all is a stall, many is a server that cannot keep up.

    .venv/bin/python benchmarks/study_load.py                     # SQLite, and PostgreSQL if reachable
    .venv/bin/python benchmarks/study_load.py --participants 50 --db sqlite --rate 500
    .venv/bin/python benchmarks/study_load.py --db postgresql+psycopg://user:pw@127.0.0.1:5432/db --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psutil

from proceval import __version__
from proceval.dataset import Dataset, DatasetWriter, Item, Manifest
from proceval.humans.simulate import Page
from proceval.humans.storage import StudyStore
from proceval.ids import content_id

GOAL_P99_MS = 50.0  # the paced phase's goal for the 99th percentile of an answer's latency
DEFAULT_POSTGRES = os.environ.get("PROCEVAL_TEST_POSTGRES_URL",
                                  "postgresql+psycopg://proceval:proceval@127.0.0.1:5432/proceval_test")


def make_dataset(path: Path, n_scenarios: int) -> Dataset:
    with DatasetWriter(path) as writer:
        items = []
        for s in range(n_scenarios):
            for level in ("true", "false"):
                sid = content_id("bench", s)
                items.append(Item(
                    id=content_id("bench", s, level), template="bench", scenario_id=sid,
                    condition={"belief": level}, condition_name=level, question_name="q",
                    text=f"Story {s}. Someone moved the object while the agent was {'watching' if level == 'true' else 'away'}.",
                    question="Where will the agent look for the object?",
                    response={"type": "choice", "options": [{"key": "a", "text": "where it is now"},
                                                            {"key": "b", "text": "where it was before"}]},
                    answer="a" if level == "true" else "b"))
        for item in items:
            writer.add_item(item)
        writer.finish(Manifest(proceval_version=__version__, template={"name": "bench", "hash": "0"},
                               source={"kind": "benchmark"}, conditions={i.condition_name: i.condition for i in items}))
    return Dataset.load(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(dataset: Path, config: Path, db_url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    code = ("import sys; from proceval.humans import serve, load_study_config; "
            "serve(sys.argv[1], load_study_config(sys.argv[2]), sys.argv[3], port=int(sys.argv[4]), access_log=False, "
            "workers=int(sys.argv[5]))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(dataset), str(config), db_url, str(port), str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "server exited")
        try:  # up when every worker listens: connections made before go to the first one only
            if (httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
                    and len(connections_per_worker(proc.pid, port)) >= workers):
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def connections_per_worker(pid: int, port: int) -> list[int]:
    """Open connections on ``port`` of each server process listening on it (the server and its workers),
    fewest first: how evenly the participants' connections are spread over the workers."""
    counts = []
    for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            connections = [c for c in process.net_connections("tcp") if c.laddr.port == port]
        except psutil.Error:
            continue  # ended meanwhile
        if any(c.status == psutil.CONN_LISTEN for c in connections):
            counts.append(sum(c.status == psutil.CONN_ESTABLISHED for c in connections))
    return sorted(counts)


class _Closed(Exception):
    pass


class RawClient:
    """A minimal keep-alive HTTP/1.1 client (one connection, the session cookie): far cheaper per request
    than a general client, so the load generator leaves the CPU to the server it measures. A response is read in
    as few chunks as it arrives in, not line by line."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie: str | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.buffer = b""

    async def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        try:
            return await self._request(method, path, form)
        except (ConnectionError, _Closed):
            # the server closed an idle keep-alive connection: reconnect and send again (answers carry an
            # idempotency key, so a resent answer is stored once)
            self.writer = None
            return await self._request(method, path, form)

    async def _more(self) -> None:
        assert self.reader is not None
        chunk = await self.reader.read(65536)
        if not chunk:
            raise _Closed
        self.buffer += chunk

    async def _request(self, method: str, path: str, form: dict[str, str] | None) -> tuple[int, dict[str, str], str]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.buffer = b""
        body = urlencode(form).encode() if form is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if self.cookie:
            head += f"Cookie: proceval_session={self.cookie}\r\n"
        if form is not None:
            head += "Content-Type: application/x-www-form-urlencoded\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            await self._more()
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            key, value = line.split(":", 1)
            key, value = key.strip().lower(), value.strip()
            if key == "set-cookie" and value.startswith("proceval_session="):
                self.cookie = value.split(";", 1)[0].split("=", 1)[1]
            headers[key] = value
        start = end + 4
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < start + length:
            await self._more()
        data, self.buffer = self.buffer[start:start + length], self.buffer[start + length:]
        return status, headers, data.decode("utf-8")

    async def page(self, method: str, path: str, form: dict[str, str] | None = None) -> Page:
        status, headers, text = await self.request(method, path, form)
        while status == 303:
            status, headers, text = await self.request("GET", headers["location"])
        return Page(status, text, path)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def run_async(coroutine: Any) -> Any:
    """Run the load generator on uvloop where installed (uvicorn's own loop): a cheaper client leaves more of
    the shared cores to the server it measures."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and its children (the workers), from Linux /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) or 0.0 for child in children)


def postgres_cpu_seconds() -> float | None:
    """User + system CPU time of this machine's PostgreSQL processes (a server on loopback), or None."""
    total, found = 0.0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # a process that ended meanwhile
        if text[text.index("(") + 1:text.rindex(")")] == "postgres":
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            found = True
    return total if found else None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def participant_setup(client: RawClient, i: int) -> Page:
    page = await client.page("GET", f"/?PROLIFIC_PID=bench{i}&STUDY_ID=bench&SESSION_ID=s{i}")
    page = await client.page("POST", "/study/consent", {**page.hidden, "consent": "agree"})
    return await client.page("POST", "/study/instructions", page.hidden)


async def participant_trials(client: RawClient, page: Page, latencies: list[float],
                             full: list[float], acked: list[tuple[str, int, str]], name: str, stop: float) -> None:
    while page.action == "/study/trial" and time.monotonic() < stop:
        data = {**page.hidden, "response": page.radios()["response"][0]}
        t0 = time.perf_counter()
        status, headers, text = await client.request("POST", "/study/trial", data)
        t1 = time.perf_counter()
        if status != 303:
            raise RuntimeError(f"answer refused: {status} {text[-300:]}")
        acked.append((name, int(data["position"]), data["response"]))
        latencies.append(t1 - t0)
        page = await client.page("GET", headers["location"])  # as a browser follows the redirect
        full.append(time.perf_counter() - t0)


async def participant_paced(client: RawClient, page: Page, latencies: list[float], full: list[float],
                            acked: list[tuple[str, int, str]], name: str, first_due: float, interval: float,
                            stop: float, dues: list[float]) -> None:
    due = first_due
    while page.action == "/study/trial" and due < stop:
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        data = {**page.hidden, "response": page.radios()["response"][0]}
        status, headers, text = await client.request("POST", "/study/trial", data)
        if status != 303:
            raise RuntimeError(f"answer refused: {status} {text[-300:]}")
        acked.append((name, int(data["position"]), data["response"]))
        latencies.append(time.perf_counter() - due)
        dues.append(due)
        page = await client.page("GET", headers["location"])
        full.append(time.perf_counter() - due)
        due += interval


async def baseline(port: int, concurrency: int, seconds: float) -> float:
    count = 0
    stop = time.monotonic() + seconds
    clients = [RawClient(port) for _ in range(concurrency)]

    async def worker(client: RawClient) -> None:
        nonlocal count
        while time.monotonic() < stop:
            await client.request("GET", "/healthz")
            count += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients))
    rate = count / (time.perf_counter() - t0)
    await asyncio.gather(*(c.close() for c in clients))
    return rate


Meter = Callable[[], tuple[float | None, float | None, float]]


def machine_ticks() -> tuple[int, int] | None:
    """(ticks stolen by the virtual machine's host, all ticks) of this machine's CPUs so far, from Linux
    /proc/stat; None elsewhere."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    return fields[7], sum(fields)


def stolen_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] == before[1]:
        return None
    return round((after[0] - before[0]) / (after[1] - before[1]), 2)


def cpu_meter(pid: int, postgres: bool) -> Meter:
    """CPU seconds so far of the server processes, PostgreSQL's processes (None on SQLite, which runs inside
    the server) and this load generator."""
    return lambda: (cpu_seconds(pid), postgres_cpu_seconds() if postgres else None, time.process_time())


async def load(port: int, n: int, limit_s: float, rate: float | None, first: int, meter: Meter,
               spread: Callable[[], list[int]]) -> dict[str, Any]:
    """One phase with participants ``bench{first}`` … ``bench{first + n - 1}``: saturated, or paced at ``rate``.
    The CPU is metered over the timed trials only (not the participants' setup); ``spread`` tells how the
    participants' connections are shared out among the server's workers."""
    clients = [RawClient(port) for _ in range(n)]
    try:
        pages = []
        for start in range(0, n, 50):  # setup in batches: not timed
            pages += await asyncio.gather(*(participant_setup(c, first + start + i)
                                            for i, c in enumerate(clients[start:start + 50])))
        latencies: list[float] = []
        full: list[float] = []
        acked: list[tuple[str, int, str]] = []
        dues: list[float] = []  # when each paced answer was due, beside its latency
        connections = spread()
        cpu0, ticks0 = meter(), machine_ticks()
        t0 = time.perf_counter()
        if rate is None:
            stop = time.monotonic() + limit_s
            runs = [participant_trials(c, p, latencies, full, acked, f"bench{first + i}", stop)
                    for i, (c, p) in enumerate(zip(clients, pages, strict=True))]
        else:
            interval = n / rate
            runs = [participant_paced(c, p, latencies, full, acked, f"bench{first + i}", t0 + i * interval / n,
                                      interval, t0 + limit_s, dues)
                    for i, (c, p) in enumerate(zip(clients, pages, strict=True))]
        await asyncio.gather(*runs)
        wall = time.perf_counter() - t0
        cpu1, ticks1 = meter(), machine_ticks()
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    cpu = {part: None if a is None or b is None else b - a
           for part, a, b in zip(("server", "database", "load_generator"), cpu0, cpu1, strict=True)}
    return {"latencies": latencies, "full": full, "acked": acked, "wall_s": wall, "cpu_s": cpu,
            "connections": connections, "stolen": stolen_share(ticks0, ticks1), "dues": [d - t0 for d in dues]}


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    ms = [x * 1000 for x in result["latencies"]]
    full = [x * 1000 for x in result["full"]]
    return {
        "answers": len(ms),
        "wall_s": round(result["wall_s"], 2),
        "answers_per_s": round(len(ms) / result["wall_s"], 1),
        "answer_p50_ms": round(statistics.median(ms), 2),
        "answer_p99_ms": round(percentile(ms, 0.99), 2),
        "page_cycle_p50_ms": round(statistics.median(full), 2),
        "page_cycle_p99_ms": round(percentile(full, 0.99), 2),
        # where the machine's CPU went during the timed trials, per answer: the server processes, PostgreSQL's
        # processes (on this machine) and this load generator; and how busy that kept the machine's cores
        "cpu_ms_per_answer": {part: None if t is None else round(1000 * t / len(ms), 2)
                              for part, t in result["cpu_s"].items()},
        "cores_busy": round(sum(t for t in result["cpu_s"].values() if t) / result["wall_s"] / (os.cpu_count() or 1), 2),
        # the share of the machine's CPU time its virtual machine's host took meanwhile: well above 0, the run
        # had fewer cores than it seems, and is not comparable with one that had all of them
        "cpu_stolen_by_host": result["stolen"],
        "connections_per_worker": result["connections"],
        **({"over_goal": over_goal(ms, result["dues"])} if result["dues"] else {}),
    }


def over_goal(ms: list[float], dues: list[float]) -> dict[str, Any]:
    """The paced answers slower than the goal, and in how many 100 ms windows (of when they were due) they fell:
    a few windows holding them all is a stall of the machine or database, many is a server that cannot keep up."""
    slow = [due for latency, due in zip(ms, dues, strict=True) if latency > GOAL_P99_MS]
    return {"answers": len(slow), "windows_100ms": len({int(due * 10) for due in slow})}


def run_backend(name: str, db_url: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    dataset = make_dataset(work / f"ds-{name}", args.scenarios)
    config = work / "study.yaml"
    config.write_text(f"items_per_participant: {args.items}\nseed: 1\n", encoding="utf-8")
    port = free_port()
    proc = start_server(dataset.path, config, db_url, port, args.workers)
    n = args.participants
    try:
        base = run_async(baseline(port, n, 3.0))
        meter = cpu_meter(proc.pid, postgres=name == "postgres")
        spread = functools.partial(connections_per_worker, proc.pid, port)
        saturated = run_async(load(port, n, args.limit, None, first=0, meter=meter, spread=spread))
        paced = run_async(load(port, n, args.limit, args.rate, first=n, meter=meter, spread=spread))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    store = StudyStore(db_url)
    stored = [(a["participant"], a["position"], a["response"]) for a in store.iter_answers()]
    store.close()
    duplicates = sum(k - 1 for k in Counter((p, pos) for p, pos, _ in stored).values() if k > 1)
    acked = saturated["acked"] + paced["acked"]
    lost = len(set(acked) - set(stored))
    capacity = summarise(saturated)
    at_rate = summarise(paced)
    return {
        "participants": n,
        "workers": args.workers,
        "saturated": capacity,
        "paced": {"offered_answers_per_s": args.rate, **at_rate},
        "load_average_1m": round(os.getloadavg()[0], 2),
        "baseline_healthz_per_s": round(base, 1),
        "ratio_to_baseline": round(capacity["answers_per_s"] / base, 3),
        "stored": len(stored),
        "acknowledged": len(acked),
        "lost": lost,
        "duplicated": duplicates,
        "target": {"capacity_at_least_answers_per_s": args.rate, "paced_p99_at_most_ms": GOAL_P99_MS,
                   "met": capacity["answers_per_s"] >= args.rate and at_rate["answer_p99_ms"] <= GOAL_P99_MS
                   and at_rate["answers_per_s"] >= 0.95 * args.rate and lost == 0 and duplicates == 0},
    }


def fresh_postgres(url: str) -> str | None:
    """The URL with a fresh schema (dropped by the caller), or None if no server answers."""
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, autocommit=True, connect_timeout=3) as conn:
            schema = f"bench_{os.getpid()}"
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.Error:
        return None
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def drop_postgres(url: str) -> None:
    import psycopg

    schema = re.search(r"search_path%3D(\w+)", url).group(1)  # type: ignore[union-attr]
    plain = url.split("?")[0].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--scenarios", type=int, default=80, help="scenarios (× 2 conditions) in the dataset")
    parser.add_argument("--items", type=int, default=40, help="items per participant")
    parser.add_argument("--db", default="both", help="sqlite, postgres or both (default), or a PostgreSQL URL: "
                                                      "both, with PostgreSQL there")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--workers", type=int, default=1, help="server processes (proceval serve --workers)")
    parser.add_argument("--limit", type=float, default=120.0, help="stop each trial phase after this many seconds")
    parser.add_argument("--rate", type=float, default=1000.0, help="answers/s the paced phase offers (default 1000)")
    args = parser.parse_args()
    args.participants = max(1, min(args.participants, 1000))
    if args.db.startswith("postgres") and "://" in args.db:
        args.postgres_url, args.db = args.db, "both"
    if args.db not in ("sqlite", "postgres", "both"):
        parser.error(f"--db: expected sqlite, postgres, both or a PostgreSQL URL, not {args.db!r}")
    out: dict[str, Any] = {"benchmark": "study_load", "cpus": os.cpu_count(), "python": platform.python_version(),
                           "proceval": __version__}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.db in ("sqlite", "both"):
            out["sqlite"] = run_backend("sqlite", f"sqlite:///{work / 'bench.db'}", args, work)
        if args.db in ("postgres", "both"):
            url = fresh_postgres(args.postgres_url)
            if url is None:
                out["postgres"] = {"skipped": "no PostgreSQL server reachable (source .ci/services.sh)"}
            else:
                try:
                    out["postgres"] = run_backend("postgres", url, args, work)
                finally:
                    drop_postgres(url)
    if "answers_per_s" in out.get("postgres", {}).get("saturated", {}) and "sqlite" in out:
        out["postgres_to_sqlite"] = round(out["postgres"]["saturated"]["answers_per_s"]
                                          / out["sqlite"]["saturated"]["answers_per_s"], 3)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
