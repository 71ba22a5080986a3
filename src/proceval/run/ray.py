"""The Ray executor: a run's work units (subject × item) answered by Ray actors that load the model once.

The driver (the process running ``proceval run``) keeps everything a local run keeps: it skips finished work,
writes each record to the run directory as it arrives, and writes run.json. Only the answering moves: each
actor builds its own model from the spec string (llama.cpp, Hugging Face, or one OpenAI-compatible endpoint
of a pool) and the same solver, and answers units sent to it. Model calls go through the run's call cache,
kept by a small cache actor on the driver's node, so the cache file is the one a local run writes.

Ray restarts an actor whose process died and runs its unfinished calls again (``max_restarts``,
``max_task_retries``); a record reaches the run directory only when its call returned, so nothing is lost or
written twice. With deterministic decoding every unit's answer is the same wherever it runs, so a Ray run's
responses equal a local run's (the runner writes them in dataset order at the end, as locally).

    from proceval.run import run_dataset
    from proceval.run.ray import RayExecutor
    run_dataset("data/tom", "local/smollm2-135m", "runs/tom-ray", executor=RayExecutor(actors=2))
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from proceval.core.task import Task
from proceval.dataset import Item
from proceval.errors import ProcevalError, RunError
from proceval.models.base import LanguageModel, ModelIdentity, ModelUnavailable, load_model, split_spec
from proceval.models.cache import CachedModel, CallCache
from proceval.solvers.scorers import Scorer, score_record
from proceval.solvers.subjects import Subject

Unit = tuple[Subject, Item, int]  # who answers, what, at which position of its order


@dataclass
class RayExecutor:
    """Where and how a run's units are answered on Ray.

    ``address``: a running cluster (``auto``, ``HOST:PORT``); ``None`` joins the Ray instance this process
    already started, or starts a local one for the run. ``actors`` model copies (per endpoint, for
    ``base_urls``), each with ``num_cpus``/``num_gpus``. ``base_urls`` (openai models): a pool of servers,
    each answering up to ``per_endpoint`` units at once; one that stays unreachable after the backend's own
    retries is taken out (its failures are counted in run.json) and its units go to the others.
    """

    address: str | None = None
    actors: int = 1
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    base_urls: list[str] = field(default_factory=list)
    per_endpoint: int = 4
    max_restarts: int = 3  # a unit that kills its actor every time must not retry forever
    ready_timeout_s: float = 300.0  # loading a model takes a while; placing an actor must not hang forever
    connect_timeout_s: float = 5.0

    def describe(self) -> dict[str, Any]:
        """What run.json records about the executor (never the addresses' credentials: there are none)."""
        return {"kind": "ray", "address": self.address, "actors": self.actors, "num_cpus": self.num_cpus,
                "num_gpus": self.num_gpus, **({"endpoints": list(self.base_urls),
                                                "per_endpoint": self.per_endpoint} if self.base_urls else {})}

    def answers(self, work: list[Unit], *, build: Callable[..., Any], model: str | LanguageModel | None,
                options: dict[str, Any], task: Task | None, scorers: dict[str, Scorer],
                cache: CallCache | None, counts: CachedModel | None, session: dict[str, Any]
                ) -> Iterator[dict[str, Any]]:
        """Records of ``work`` as they finish. ``build(model)`` makes the solver on an actor (``build()`` for a
        program); ``counts`` receives the actors' call counts and ``session`` the executor's figures."""
        if model is not None and not isinstance(model, str):
            raise RunError("the Ray executor loads the model on every actor, so it needs a model spec string",
                           field="model", hint="pass the model as provider/model, not a loaded model")
        started_here = connect(self.address, self.connect_timeout_s)
        import ray

        try:
            check_resources(self.num_cpus, self.num_gpus)
            server = _cache_server(cache) if cache is not None else None
            identity = counts.identity if counts is not None else None  # every actor keys calls as the driver
            recipe = ray.put((build, model, options, identity, task, scorers))
            urls: list[str | None] = [*self.base_urls] or [None]
            actor_options = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus,
                             "max_restarts": self.max_restarts, "max_task_retries": self.max_restarts,
                             "max_concurrency": self.per_endpoint if self.base_urls else 1}
            answerer = ray.remote(_Answerer).options(**actor_options)  # type: ignore[attr-defined]
            threads = max(1, int(self.num_cpus))
            # the recipe is passed inside a list: the actor fetches it, and a restarted actor fetches it again
            workers: list[tuple[str | None, Any]] = [(url, answerer.remote([recipe], server, url, threads))
                       for url in urls for _ in range(self.actors)]
            _wait_ready([w for _, w in workers], self.ready_timeout_s)
            session["executor"] = self.describe()
            failures: dict[str, int] = {}
            slots = self.per_endpoint if self.base_urls else 2  # 2: the next unit waits at the actor, no idle gap
            yield from _dispatch(work, workers, slots, counts, failures)
            if failures:
                session["endpoint_failures"] = failures
        except ray.exceptions.RayActorError as exc:
            raise RunError(f"a Ray worker died more than {self.max_restarts} times: {exc}",
                           hint="finished answers are kept; look at the worker's log, then run again") from None
        finally:
            if started_here:
                ray.shutdown()


def _dispatch(work: list[Unit], workers: list[tuple[str | None, Any]], slots: int, counts: CachedModel | None,
              failures: dict[str, int]) -> Iterator[dict[str, Any]]:
    """Hand units to actors with a free slot and yield records as they come back (Ray's ``ray.wait``); a unit
    whose endpoint failed goes back to the queue and that endpoint's actors get no more work."""
    import ray

    queue = list(reversed(work))
    free = {i: slots for i in range(len(workers))}
    running: dict[Any, tuple[int, Unit]] = {}
    while queue or running:
        for i in [i for i, n in free.items() for _ in range(n)]:
            if not queue:
                break
            unit = queue.pop()
            running[workers[i][1].answer.remote(*unit)] = (i, unit)
            free[i] -= 1
        if not running:
            raise RunError("every endpoint of the pool failed: " + ", ".join(f"{u} ({n})" for u, n in failures.items()),
                           field="base_url", hint="check that the servers run, then run again (finished work is kept)")
        ready, _ = ray.wait(list(running), num_returns=1)
        i, unit = running.pop(ready[0])
        url = workers[i][0]
        try:
            outcome = ray.get(ready[0])
        except ray.exceptions.RayTaskError as exc:  # the user's error as a local run gives it, not Ray's wrapper
            if isinstance(exc.cause, ProcevalError):
                raise exc.cause from None
            raise
        if isinstance(outcome, ModelUnavailable):  # taken out: its other units come back the same way
            assert url is not None, outcome
            failures[url] = failures.get(url, 0) + 1
            free.pop(i, None)
            queue.append(unit)
            continue
        if i in free:
            free[i] += 1
        record, (calls, hits, evaluated) = outcome
        if counts is not None:
            counts.calls += calls
            counts.hits += hits
            counts.prompt_tokens_evaluated += evaluated
        yield record


class _Answerer:
    """One actor: one model (or one endpoint's client) and the solver over it."""

    def __init__(self, recipe: list[Any], server: Any, base_url: str | None, threads: int) -> None:
        import ray

        self.build, spec, options, self.identity, self.task, self.scorers = ray.get(recipe[0])
        self.cache = _RemoteCache(server) if server is not None else None
        if base_url is not None:
            options = {**options, "base_url": base_url}
        elif spec is not None and split_spec(spec)[0] in ("local", "llama-cpp", "hf"):
            options = {"n_threads": threads, **options}  # as many threads as CPUs Ray gave the actor
        self.model = load_model(spec, **options) if spec is not None else None

    def ready(self) -> bool:
        return True

    def answer(self, subject: Subject, item: Item, position: int) -> Any:
        # a solver per unit over its own counting wrapper: the counts of concurrent units stay apart
        cached = _Keyed(self.model, self.cache, self.identity) if self.model is not None else None
        solver = self.build(cached) if cached is not None else self.build()
        try:
            record = solver.answer(item, subject, position, None)
        except ModelUnavailable as exc:
            return exc  # the driver takes the endpoint out and gives the unit to another
        score_record(item, record, self.task, self.scorers)
        return record, ((cached.calls, cached.hits, cached.prompt_tokens_evaluated) if cached else (0, 0, 0))


class _Keyed(CachedModel):
    """Calls keyed by the model identity the driver recorded, whichever endpoint of a pool answers them (an
    openai identity names its base URL), so the cache is the one a local run against the first URL writes."""

    def __init__(self, model: Any, cache: Any, identity: ModelIdentity) -> None:
        super().__init__(model, cache)
        self._identity = identity

    @property
    def identity(self) -> ModelIdentity:
        return self._identity


class _RemoteCache:
    """The cache actor seen as a :class:`CallCache` by :class:`CachedModel` (get and put only)."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def get(self, key: str) -> Any | None:
        import ray

        return ray.get(self.server.get.remote(key))

    def put(self, key: str, kind: str, identity: Any, value: Any) -> None:
        import ray

        ray.get(self.server.put.remote(key, kind, identity, value))  # written before the answer is returned


class _CacheServer:
    """The run's call cache file, opened on the driver's node (where the run directory is)."""

    def __init__(self, path: str) -> None:
        self.cache = CallCache(path)

    def get(self, key: str) -> Any | None:
        return self.cache.get(key)

    def put(self, key: str, kind: str, identity: Any, value: Any) -> None:
        self.cache.put(key, kind, identity, value)


def _cache_server(cache: CallCache) -> Any:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return ray.remote(_CacheServer).options(num_cpus=0, scheduling_strategy=here,  # type: ignore[attr-defined]
                                            max_concurrency=8).remote(str(cache.path.resolve()))


def _wait_ready(actors: list[Any], timeout: float) -> None:
    import ray

    ready, pending = ray.wait([a.ready.remote() for a in actors], num_returns=len(actors), timeout=timeout)
    ray.get(ready)  # a model that fails to load raises its own error here
    if pending:
        raise RunError(f"{len(pending)} of {len(actors)} Ray actors were not placed within {timeout:.0f} s",
                       hint="the cluster has too few free CPUs/GPUs for them; lower --ray-actors or add nodes")


def connect(address: str | None, timeout: float = 5.0) -> bool:
    """Join the Ray cluster at ``address`` (``None``: the one already joined, or a new local one); True when
    this call joined (so the caller leaves it again). An address that does not answer fails within ``timeout``
    seconds instead of Ray's long connection retries."""
    try:
        import ray
    except ImportError:
        raise RunError("the Ray executor needs ray", field="executor",
                       hint="pip install 'proceval[ray]', or run with --executor local") from None

    if ray.is_initialized():
        return False
    if address not in (None, "auto", "local"):
        host, _, port = address.removeprefix("ray://").rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
        except (OSError, ValueError) as exc:
            raise RunError(f"cannot reach the Ray cluster at {address}: {exc}", field="ray_address",
                           hint="start it with `ray start --head`, or give the head node's HOST:PORT "
                                "(default port 6379)") from None
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RunError(f"cannot join the Ray cluster at {address}: {exc}", field="ray_address",
                       hint="check the address, and that this machine runs the cluster's Ray version") from None
    return True


def check_resources(num_cpus: float, num_gpus: float) -> None:
    """Refuse at once an actor no node of the cluster can hold (Ray would wait for it forever)."""
    import ray

    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if not any(r.get("CPU", 0) >= num_cpus and r.get("GPU", 0) >= num_gpus for r in nodes):
        have = ", ".join(f"{r.get('CPU', 0):g} CPU/{r.get('GPU', 0):g} GPU" for r in nodes) or "no nodes"
        raise RunError(f"no node of the Ray cluster has {num_cpus:g} CPU and {num_gpus:g} GPU for one actor "
                       f"(nodes: {have})", field="ray_num_gpus" if num_gpus else "ray_num_cpus",
                       hint="ask for fewer resources per actor, or add a node that has them")

