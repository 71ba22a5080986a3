"""A social-contract simulation declared in a YAML file: fixed players, the assistant, the rational observer.

For every experiment, every condition (policy × manner) and every run: ``episodes_per_run`` ultimatum games
between fixed players (currencies of ``currencies.in`` in turn), then, with a model, the assistant plays
each currency of ``in`` and ``out`` once as proposer and once as decider against a fixed player under its
current principle, and a meta-prompt rewrites the principle from the run's transcripts. The rational
observer updates its posterior over the policies from the fixed players' offers and decisions after each run.

Every random draw is seeded from (seed, experiment, condition, run, episode, role) and every model call goes
through the call cache, so results do not depend on order, and a simulation run again after an interruption
repeats no model call it had finished (it replays them from ``OUT/calls.sqlite``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from proceval.envs.base import Player, play_episode
from proceval.envs.observer import RationalObserver
from proceval.envs.players import (
    INITIAL_PRINCIPLE,
    ScriptedPlayer,
    assistant_player,
    fixed_model_player,
    revise_principle,
)
from proceval.envs.policies import DEFAULT_RATIONALITY, MANNERS, POLICIES
from proceval.envs.ultimatum import DECIDER, PROPOSER, UltimatumGame
from proceval.errors import ProcevalError
from proceval.ids import text_id
from proceval.models.base import LanguageModel

PolicyName = Literal["selfish", "fair", "altruistic"]
MannerName = Literal["neutral", "rude", "sycophantic"]


class SimulationError(ProcevalError):
    """A simulation file or output directory that cannot be used."""


class Currencies(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    in_distribution: list[str] = Field(alias="in", min_length=1)  # the fixed players' games use these
    out_of_distribution: list[str] = Field(default_factory=list, alias="out")  # only the assistant meets these


class SimulationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    environment: Literal["ultimatum"] = "ultimatum"
    policies: list[PolicyName] = Field(["selfish", "fair", "altruistic"], min_length=1)
    manners: list[MannerName] = Field(["neutral"], min_length=1)
    currencies: Currencies
    amount: int = Field(10, ge=1)
    experiments: int = Field(1, ge=1)
    runs: int = Field(5, ge=1)
    episodes_per_run: int = Field(8, ge=0)
    players: Literal["scripted", "model"] = "scripted"  # how fixed players are played
    model: str | None = "local/smollm2-135m"  # the assistant (and model-played fixed players); null: none
    principle: str = INITIAL_PRINCIPLE  # the assistant's principle before the first run
    rationality: float = Field(DEFAULT_RATIONALITY, gt=0)  # scripted players' and the observer's beta
    max_retries: int = Field(2, ge=0)
    temperature: float = Field(0.0, ge=0)
    max_tokens: int = Field(48, ge=1)
    # model players decode their actions under the environment's constraint (every reply is a valid action) and
    # the meta-prompt's reply as one "Principle: ..." line; false: free text, parsed strictly and retried
    constrain: bool = True
    seed: int = 0

    @model_validator(mode="after")
    def _model_for_model_players(self) -> SimulationSpec:
        if self.players == "model" and not self.model:
            raise ValueError("players: model needs a model (set model: provider/name)")
        return self


ALLOWED = {"policies": list(POLICIES), "manners": list(MANNERS), "players": ["scripted", "model"],
           "environment": ["ultimatum"]}


class AnalysisSettings(BaseModel):
    """A simulation study file's ``analysis:`` section: how ``proceval study`` analyses the simulation."""

    model_config = ConfigDict(extra="forbid")
    judge: str | None = None  # the model that reads each principle and names the policy it describes; null: none
    tolerance: float = Field(0.1, ge=0, le=1)  # the assistant's offers have converged within this share
    seed: int = 0
    n_boot: int = Field(2000, ge=10)
    level: float = Field(0.95, gt=0, lt=1)


class SimulationStudy(BaseModel):
    """A study file of the simulation kind: a ``simulation:`` section and an optional ``analysis:`` section."""

    model_config = ConfigDict(extra="forbid")
    simulation: SimulationSpec
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)


def load_study(path: str | Path) -> SimulationStudy:
    """Read a simulation study file (``simulation:`` and ``analysis:`` sections) or a bare simulation section;
    errors name the file, line and field, and the allowed values."""
    from proceval.templates.yamlio import format_loc, read_yaml

    data, lines = read_yaml(path, SimulationError)
    if not isinstance(data, dict):
        raise SimulationError("a simulation study file is a mapping with a `simulation:` section",
                              file=path, line=1)
    prefix: tuple[str, ...] = () if "simulation" in data else ("simulation",)
    try:
        return SimulationStudy.model_validate(data if not prefix else {"simulation": data})
    except ValidationError as exc:
        error = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        loc = tuple(error["loc"])
        inner = loc[1:] if loc[:1] == ("simulation",) else ()  # the field inside the simulation section
        message = str(error["msg"]).removeprefix("Value error, ")
        hint = (f"allowed {inner[0]}: {', '.join(ALLOWED[str(inner[0])])}" if inner and inner[0] in ALLOWED
                else "see docs/simulate.md for the keys of a simulation study file")
        if error["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
            sections: dict[tuple[Any, ...], type[BaseModel]] = {
                (): SimulationStudy, ("simulation",): SimulationSpec, ("analysis",): AnalysisSettings}
            section = sections.get(loc[:-1], Currencies)
            hint = f"known keys here: {', '.join(f.alias or n for n, f in section.model_fields.items())}"
        shown = loc[len(prefix):]
        raise SimulationError(message, file=path, line=lines.line_for(shown), field=format_loc(shown) or None,
                              hint=hint) from None


def load_spec(path: str | Path) -> SimulationSpec:
    """The simulation a study file (or a bare simulation section) declares; see :func:`load_study`."""
    return load_study(path).simulation


def seed_of(*parts: object) -> int:
    """A 32-bit seed from the parts (stable across runs, machines and orders)."""
    return int(text_id(*(str(p) for p in parts))[:8], 16)


class _Writer:
    """A JSONL file written line by line (flushed: an interrupted simulation keeps what it wrote)."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("wb")

    def write(self, record: dict[str, Any]) -> None:
        self.file.write(orjson.dumps(record) + b"\n")
        self.file.flush()


def _episodes(spec: SimulationSpec, model: LanguageModel | None, experiment: int, policy: str, manner: str,
              run: int, principle: str) -> Iterator[dict[str, Any]]:
    """The run's episodes: fixed × fixed, then (with a model) the assistant in each seat and currency."""
    key = (spec.seed, experiment, policy, manner, run)
    options = {"max_tokens": spec.max_tokens, "temperature": spec.temperature, "constrain": spec.constrain}

    def fixed(episode: int, role: str) -> Player:
        seed = seed_of(*key, episode, role)
        if spec.players == "model" and model is not None:
            return fixed_model_player(model, policy, manner, seed, **options)
        return ScriptedPlayer(policy, manner, seed, spec.rationality)

    games: list[tuple[str, str, str]] = [(spec.currencies.in_distribution[i % len(spec.currencies.in_distribution)],
                                          "in", "fixed") for i in range(spec.episodes_per_run)]
    if model is not None:
        games += [(currency, distribution, seat) for distribution, currencies in
                  (("in", spec.currencies.in_distribution), ("out", spec.currencies.out_of_distribution))
                  for currency in currencies for seat in (PROPOSER, DECIDER)]
    for episode, (currency, distribution, assistant_seat) in enumerate(games):
        players = {role: fixed(episode, role) for role in (PROPOSER, DECIDER)}
        if assistant_seat != "fixed" and model is not None:
            players[assistant_seat] = assistant_player(model, principle, seed_of(*key, episode, "assistant"),
                                                       **options)
        record = play_episode(UltimatumGame(spec.amount, currency), players, spec.max_retries)
        outcome = record.pop("outcome")
        yield {"experiment": experiment, "policy": policy, "manner": manner, "run": run, "episode": episode,
               "currency": currency, "distribution": distribution,
               "assistant": None if assistant_seat == "fixed" else assistant_seat,
               "principle": None if assistant_seat == "fixed" else principle,
               **{k: outcome[k] for k in ("amount", "offer", "share", "accepted")}, **record}


def simulate(spec: SimulationSpec, out: str | os.PathLike[str], model: LanguageModel | None = None,
             progress: bool = False) -> dict[str, Any]:
    """Run ``spec`` into ``out`` (episodes.jsonl, principles.jsonl, observer.jsonl, simulation.json, calls.sqlite).

    ``model`` replaces loading ``spec.model`` (a model object built elsewhere). Returns simulation.json's content.
    """
    from proceval.models.cache import CachedModel, CallCache

    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    cached: CachedModel | None = None
    if spec.model is not None:
        if model is None:
            from proceval.models.base import load_model

            model = load_model(spec.model)
        cached = CachedModel(model, CallCache(directory / "calls.sqlite"))
    counts = {"episodes": 0, "failed": 0, "invalid": 0, "turns": 0, "principles_kept": 0, "principles_unparsed": 0}
    status = "interrupted"
    episodes, principles, observer_out = (_Writer(directory / f"{name}.jsonl")
                                          for name in ("episodes", "principles", "observer"))
    try:
        for experiment in range(spec.experiments):
            for policy in spec.policies:
                for manner in spec.manners:
                    principle = spec.principle
                    observer = RationalObserver(spec.policies, spec.rationality)
                    for run in range(spec.runs):
                        fixed_games = []
                        for record in _episodes(spec, cached, experiment, policy, manner, run, principle):
                            episodes.write(record)
                            counts["episodes"] += 1
                            counts["failed"] += record["status"] == "failed"
                            counts["invalid"] += record["invalid"]
                            counts["turns"] += record["turns"]
                            if record["assistant"] is None and record["status"] == "ok":
                                fixed_games.append(record)
                                observer.observe_offer(record["offer"], record["amount"])
                                observer.observe_decision(record["share"], record["accepted"])
                        observer_out.write({"experiment": experiment, "policy": policy, "manner": manner,
                                            "run": run, "observed": len(fixed_games),
                                            "posterior": observer.posterior(), "map": observer.map_policy()})
                        if cached is not None:
                            revision = revise_principle(cached, principle, fixed_games,
                                                        seed_of(spec.seed, experiment, policy, manner, run, "meta"),
                                                        max_tokens=2 * spec.max_tokens,
                                                        temperature=spec.temperature,
                                                        constrain=spec.constrain)
                            counts["principles_kept"] += revision["kept"]
                            counts["principles_unparsed"] += revision["unparsed"]
                            principles.write({"experiment": experiment, "policy": policy, "manner": manner,
                                              "run": run, **revision})
                            principle = revision["principle"]
        status = "complete"
    finally:
        for writer in (episodes, principles, observer_out):
            writer.file.close()
        summary = {"status": status, "spec": spec.model_dump(by_alias=True), **counts,
                   "model": None if cached is None else {"spec": cached.spec, "provider": cached.identity.provider,
                                                         "name": cached.identity.name,
                                                         "revision": cached.identity.revision},
                   "calls": cached.calls if cached else 0, "cache_hits": cached.hits if cached else 0,
                   "wall_s": round(time.perf_counter() - started, 3)}
        (directory / "simulation.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        if cached is not None and cached.cache is not None:
            cached.cache.close()
    return summary
