"""Multi-agent environments (turns, observations, actions, payoffs), registered by name in :data:`ENVS`."""

from proceval.core.registry import Registry
from proceval.envs.base import ActionError, Environment, Observation, Player, PlayerFailed, play_episode

ENVS: Registry[type[Environment]] = Registry("envs", builtins={"ultimatum": "proceval.envs.ultimatum:UltimatumGame"})

__all__ = ["ENVS", "ActionError", "Environment", "Observation", "Player", "PlayerFailed", "play_episode"]
