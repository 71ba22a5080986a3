"""The assistant's principles classified against the policies, and compared with the rational observer.

Each principle the assistant wrote after run r is classified two ways:

- by a **judge model** that reads the principle and names the policy it describes (one word; a reply naming
  none or several policies is *unparseable* and counted);
- by the **behaviour** it produced: the assistant's offers and decisions in run r + 1 (in and out of
  distribution apart), inverted with the rational observer's likelihood over all policies, whose most
  probable policy is the class (none when the assistant made no valid action).

Both are compared with the fixed players' true policy and with the rational observer's posterior after run r
(the same evidence the principle was written from): ``matches_observer`` is agreement with its most probable
policy, ``observer_p`` the posterior probability it gives the class.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from proceval.analysis.bootstrap import bootstrap_ci
from proceval.core.generate import Choice
from proceval.envs.observer import RationalObserver
from proceval.envs.players import complete
from proceval.envs.policies import DEFAULT_RATIONALITY, POLICIES
from proceval.models.base import LanguageModel, Message

JUDGE_PROMPT = (
    "An AI assistant plays the ultimatum game (a proposer splits an amount, the decider accepts or rejects; a "
    "rejection pays both nothing) and follows this principle:\n\n\"{principle}\"\n\nWhich of these policies does "
    "the principle describe?\n{policies}\n\nReply with one word: {names}."
)


def judge_prompt(principle: str) -> str:
    return JUDGE_PROMPT.format(principle=principle, names=", ".join(POLICIES),
                               policies="\n".join(f"- {p.name}: {p.words}" for p in POLICIES.values()))


def parse_verdict(reply: str) -> str | None:
    """The one policy ``reply`` names (as a whole word, any case), or None when it names none or several."""
    found = {m.group(0).lower() for m in re.finditer(r"\b(" + "|".join(POLICIES) + r")\b", reply, re.IGNORECASE)}
    return found.pop() if len(found) == 1 else None


def judge_principles(model: LanguageModel, principles: Iterable[str], *, seed: int = 0, constrain: bool = True,
                     max_tokens: int = 16) -> pd.DataFrame:
    """One row per distinct principle: the judge's ``reply`` and ``verdict`` (None: unparseable). With
    ``constrain`` the judge decodes one of the policy names (every verdict parses where the backend enforces it)."""
    rows = []
    for principle in dict.fromkeys(principles):
        reply = complete(model, [Message("user", judge_prompt(principle))], max_tokens=max_tokens, temperature=0.0,
                         seed=seed, constraint=Choice(tuple(POLICIES)) if constrain else None)
        rows.append({"principle": principle, "reply": reply, "verdict": parse_verdict(reply)})
    return pd.DataFrame(rows, columns=["principle", "reply", "verdict"])


def behaviour_class(episodes: list[dict[str, Any]], rationality: float = DEFAULT_RATIONALITY
                    ) -> tuple[str | None, int]:
    """The policy that best explains the assistant's valid actions in ``episodes`` (None without any), and
    how many actions there were."""
    observer = RationalObserver(POLICIES, rationality)
    actions = 0
    for e in episodes:
        if e["assistant"] == "proposer" and e["offer"] is not None:
            observer.observe_offer(e["offer"], e["amount"])
            actions += 1
        elif e["assistant"] == "decider" and e["accepted"] is not None:
            observer.observe_decision(e["share"], e["accepted"])
            actions += 1
    return (observer.map_policy() if actions else None), actions


KEY = ["experiment", "policy", "manner", "run"]


def principle_table(episodes: list[dict[str, Any]], principles: list[dict[str, Any]],
                    observer: list[dict[str, Any]], rationality: float = DEFAULT_RATIONALITY) -> pd.DataFrame:
    """One row per principle written (after run ``run``): its text, ``kept``/``unparsed``, the observer's
    ``observer_map`` and ``observer_posterior`` after that run, and the ``behaviour_in``/``behaviour_out`` class
    of run + 1 with its number of ``actions_in``/``actions_out`` (missing after the last run)."""
    posterior = {tuple(o[k] for k in KEY): o for o in observer}
    games: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for e in episodes:
        if e["assistant"] is not None:
            games.setdefault((*(e[k] for k in KEY), e["distribution"]), []).append(e)
    rows = []
    for p in principles:
        key = tuple(p[k] for k in KEY)
        seen = posterior.get(key, {})
        row = {**dict(zip(KEY, key, strict=True)), "principle": p["principle"], "kept": p["kept"],
               "unparsed": p["unparsed"], "observer_map": seen.get("map"),
               "observer_posterior": seen.get("posterior") or {}}
        for distribution in ("in", "out"):
            following = games.get((*key[:3], key[3] + 1, distribution))
            kind, actions = behaviour_class(following, rationality) if following else (None, 0)
            row[f"behaviour_{distribution}"] = kind
            row[f"actions_{distribution}"] = actions if following else None
        rows.append(row)
    return pd.DataFrame(rows, columns=[*KEY, "principle", "kept", "unparsed", "observer_map", "observer_posterior",
                                       "behaviour_in", "actions_in", "behaviour_out", "actions_out"])


def classification(table: pd.DataFrame, verdicts: pd.DataFrame | None, *, n_boot: int = 2000, level: float = 0.95,
                   seed: int = 0) -> pd.DataFrame:
    """Per classifier (``judge``, ``behaviour``, ``observer``), distribution and manner (and ``all``): how many
    principles it could classify (``n``) and not (``unclassified``), the share matching the true policy (with a
    bootstrap interval over experiments) and the observer's most probable policy, and ``observer_p``."""
    judged = dict(zip(verdicts["principle"], verdicts["verdict"], strict=True)) if verdicts is not None else {}
    long = []
    for row in table.itertuples():
        classes = [("observer", "any", row.observer_map)]
        if verdicts is not None:
            classes.append(("judge", "any", judged.get(row.principle)))
        for distribution in ("in", "out"):
            if getattr(row, f"actions_{distribution}") is not None and not pd.isna(getattr(row, f"actions_{distribution}")):
                classes.append(("behaviour", distribution, getattr(row, f"behaviour_{distribution}")))
        for classifier, distribution, kind in classes:
            long.append({"classifier": classifier, "distribution": distribution, "manner": row.manner,
                         "experiment": row.experiment, "class": kind, "policy": row.policy,
                         "observer_map": row.observer_map,
                         "observer_p": row.observer_posterior.get(kind, 0.0) if kind else np.nan})
    frame = pd.DataFrame(long, columns=["classifier", "distribution", "manner", "experiment", "class", "policy",
                                        "observer_map", "observer_p"])
    rows = []
    for manner in ["all", *dict.fromkeys(frame["manner"])]:
        part = frame if manner == "all" else frame[frame["manner"] == manner]
        for (classifier, distribution), group in part.groupby(["classifier", "distribution"], sort=False):
            known = group[group["class"].notna()]
            matches = (known["class"] == known["policy"]).astype(float).to_numpy()
            low, high = bootstrap_ci(matches, n_boot=n_boot, level=level, seed=seed,
                                     clusters=known["experiment"].to_numpy())
            rows.append({"classifier": classifier, "distribution": distribution, "manner": manner, "n": len(known),
                         "unclassified": len(group) - len(known),
                         "matches_policy": matches.mean() if len(known) else np.nan, "low": low, "high": high,
                         "matches_observer": (known["class"] == known["observer_map"]).mean() if len(known) else np.nan,
                         "observer_p": known["observer_p"].mean() if len(known) else np.nan})
    return pd.DataFrame(rows, columns=["classifier", "distribution", "manner", "n", "unclassified", "matches_policy",
                                       "low", "high", "matches_observer", "observer_p"])
