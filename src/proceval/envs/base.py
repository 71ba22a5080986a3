"""The environment abstraction for multi-agent episodes, and the loop that plays one episode.

An :class:`Environment` says whose turn it is, what that player observes (a text prompt for a model and
the structured state for a scripted player), parses the player's reply strictly into an action and applies
it; at the end it pays each role. :func:`play_episode` runs that loop: an unparseable reply is asked again up
to ``max_retries`` times (each one counted); a player that never gives a valid action ends the episode as
``failed`` with the reason, and the caller goes on with the next episode.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol

from proceval.core.generate import Constraint
from proceval.errors import ProcevalError
from proceval.solvers.base import Trajectory


class ActionError(ProcevalError):
    """A reply that is not a valid action; the message says why (it is shown to the player on a retry)."""


class PlayerFailed(ProcevalError):
    """A player that cannot act at all (e.g. its prompt no longer fits its model): the episode fails, no retry."""


@dataclass
class Observation:
    role: str  # whose turn it is
    prompt: str  # what a model player reads
    state: dict[str, Any]  # the same facts as data, for scripted players
    # the replies that are valid actions, for a model that can decode under a constraint (None: any text)
    constraint: Constraint | None = None


class Player(Protocol):
    """Anyone who acts: ``act`` returns the reply text; ``error`` is the previous reply's problem on a retry."""

    name: str

    def act(self, observation: Observation, error: str | None = None) -> str: ...


class Environment(ABC):
    """One episode's state. ``roles`` are the seats; :meth:`to_move` is ``None`` once the episode is over."""

    roles: tuple[str, ...] = ()

    @abstractmethod
    def to_move(self) -> str | None: ...

    @abstractmethod
    def observe(self) -> Observation: ...

    @abstractmethod
    def parse(self, reply: str) -> dict[str, Any]:
        """The action in ``reply`` of the player to move; :class:`ActionError` when there is none or several."""

    @abstractmethod
    def step(self, action: dict[str, Any]) -> None: ...

    @abstractmethod
    def payoffs(self) -> dict[str, float]: ...

    def outcome(self) -> dict[str, Any]:
        """What an analysis reads of a finished episode (the environment's own summary)."""
        return {}


def play_episode(env: Environment, players: dict[str, Player], max_retries: int = 2) -> dict[str, Any]:
    """Play ``env`` to its end with ``players`` (role → player); returns the episode record.

    The record has ``status`` (``ok`` or ``failed``), ``reason``, ``turns``, ``invalid`` (replies that did not
    parse), ``payoffs`` (role → payoff; all 0 for a failed episode), ``outcome`` and ``trajectory``: a
    ``call`` step per reply (prompt, reply, parsed action or error) and an ``action`` step per applied action.
    """
    trajectory = Trajectory()
    turns = invalid = 0
    while (role := env.to_move()) is not None:
        action, reason, tries = _one_action(env, role, players[role], max_retries, trajectory)
        invalid += tries
        if action is None:
            return {"status": "failed", "reason": reason, "turns": turns, "invalid": invalid,
                    "payoffs": dict.fromkeys(env.roles, 0.0), "outcome": env.outcome(),
                    "trajectory": trajectory.to_list()}
        env.step(action)
        turns += 1
        trajectory.add("action", role, action=action)
    return {"status": "ok", "reason": None, "turns": turns, "invalid": invalid, "payoffs": env.payoffs(),
            "outcome": env.outcome(), "trajectory": trajectory.to_list()}


def _one_action(env: Environment, role: str, player: Player, max_retries: int, trajectory: Trajectory
                ) -> tuple[dict[str, Any] | None, str | None, int]:
    """The player's action (or None), why there is none, and how many replies did not parse."""
    observation = env.observe()
    error: str | None = None
    for attempt in range(max_retries + 1):
        try:
            reply = player.act(observation, error)
        except PlayerFailed as exc:
            return None, f"{role} ({player.name}) cannot act: {exc.message}", attempt
        try:
            action = env.parse(reply)
        except ActionError as exc:
            error = exc.message
            trajectory.add("call", role, player=player.name, prompt=observation.prompt, reply=reply, error=error)
            continue
        trajectory.add("call", role, player=player.name, prompt=observation.prompt, reply=reply, action=action)
        return action, None, attempt
    return None, f"{role} ({player.name}) gave no valid action in {max_retries + 1} tries: {error}", max_retries + 1
