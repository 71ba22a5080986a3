"""The study configuration a researcher writes (``study.yaml``): texts, checks, assignment, Prolific.

Every field has a sensible default, so ``StudyConfig()`` runs a working study. The admin token is read from
the environment variable named by ``admin_token_env`` (default ``PROCEVAL_ADMIN_TOKEN``); a token written in the
file is accepted too but the environment wins, and the token is never logged or shown. It must be at least
32 characters from a random generator (:func:`check_admin_token`).
"""

from __future__ import annotations

import itertools
import math
import os
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from proceval.errors import HumansError
from proceval.templates.yamlio import read_yaml, validate_yaml

DEFAULT_ADMIN_TOKEN_ENV = "PROCEVAL_ADMIN_TOKEN"
MIN_ADMIN_TOKEN_CHARS = 32
MAKE_ADMIN_TOKEN = "python -c \"import secrets; print(secrets.token_urlsafe(32))\""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Option(_Strict):
    key: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1)


class CheckQuestion(_Strict):
    """A multiple-choice question with one correct option: comprehension checks and attention checks."""

    question: str = Field(min_length=1)
    options: list[Option] = Field(min_length=2)
    answer: str

    @model_validator(mode="after")
    def _answer_is_an_option(self) -> CheckQuestion:
        keys = [o.key for o in self.options]
        if len(set(keys)) != len(keys):
            raise ValueError(f"option keys must be distinct, got {keys}")
        if self.answer not in keys:
            raise ValueError(f"answer {self.answer!r} is not one of the option keys {keys}")
        return self


class AttentionCheck(CheckQuestion):
    """A trial that looks like the others but has an obvious answer (``text`` is the story shown above it)."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    text: str = ""


class DemographicField(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")
    label: str
    type: Literal["text", "number", "choice"] = "text"
    options: list[str] = Field(default_factory=list)
    min: int | None = None
    max: int | None = None

    @model_validator(mode="after")
    def _choice_has_options(self) -> DemographicField:
        if self.type == "choice" and not self.options:
            raise ValueError(f"demographic field {self.name!r} of type choice needs options")
        return self


class StudyConfig(_Strict):
    """What ``proceval serve --study-config study.yaml`` reads."""

    title: str = "A study about short stories"
    consent: str = (
        "You are invited to take part in a research study. You will read short stories and answer a question "
        "about each. Taking part is voluntary; you may stop at any time. Your answers are stored without your "
        "name and used for research only."
    )
    instructions: str = (
        "Read each story carefully, then answer the question below it. There is no time limit, "
        "but please answer every question on your own."
    )
    comprehension: list[CheckQuestion] = Field(default_factory=list)
    comprehension_attempts: int = Field(default=3, ge=1, le=20)
    attention_checks: list[AttentionCheck] = Field(default_factory=list)
    demographics: list[DemographicField] = Field(default_factory=list)
    debrief: str = "Thank you for taking part. The stories were generated to test how people reason about them."
    declined: str = "You chose not to take part. Thank you for your time; you can close this page."
    screened_out: str = (
        "Unfortunately the answers to the comprehension questions were not correct, so the study ends here. "
        "Thank you for your time."
    )

    # assignment
    items_per_participant: int | None = Field(default=None, ge=1)
    seed: int = 0
    session_timeout_minutes: float = Field(default=60.0, gt=0)
    shuffle_trials: bool = True
    shuffle_options: bool = True
    comments: bool = True
    max_comment_chars: int = Field(default=1000, ge=0, le=100_000)

    # completion
    completion_code: str = Field(default="", max_length=64)
    prolific_completion_url: str | None = None
    redirect_seconds: int = Field(default=3, ge=0, le=60)

    # admin
    admin_token: str | None = None
    admin_token_env: str = DEFAULT_ADMIN_TOKEN_ENV

    @field_validator("prolific_completion_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (for example https://app.prolific.com/submissions/complete?cc=CODE)")
        return value

    @model_validator(mode="after")
    def _distinct_checks(self) -> StudyConfig:
        ids = [c.id for c in self.attention_checks]
        if len(set(ids)) != len(ids):
            raise ValueError(f"attention check ids must be distinct, got {ids}")
        return self

    def resolved_admin_token(self) -> str | None:
        """The admin token: the environment variable if set, else the file's ``admin_token``.

        A token too short or too regular to resist guessing is a :class:`HumansError` (see :func:`check_admin_token`).
        """
        from_env = os.environ.get(self.admin_token_env)
        token = from_env or self.admin_token
        if token:
            check_admin_token(token, f"${self.admin_token_env}" if from_env else "admin_token")
        return token

    def completion_url(self, code: str) -> str | None:
        if not self.prolific_completion_url:
            return None
        return self.prolific_completion_url.replace("{code}", code)


def check_admin_token(token: str, source: str) -> None:
    """Refuse an admin token that could be guessed: under 32 characters, or with the repeats, runs or few
    distinct characters of a typed word rather than a random generator (``source`` names where it came from)."""
    problem = None
    if len(token) < MIN_ADMIN_TOKEN_CHARS:
        problem = (f"is {len(token)} character{'s' * (len(token) != 1)} long; it needs at least "
                   f"{MIN_ADMIN_TOKEN_CHARS} random characters")
    else:
        counts = Counter(token)
        bits = -sum(n * math.log2(n / len(token)) for n in counts.values())  # as if each character were drawn alone
        steps = sum(abs(ord(a) - ord(b)) <= 1 for a, b in itertools.pairwise(token))
        # a random 32-character hex token (the least varied alphabet generators use) carries about 115 bits by
        # this estimate, and in 300,000 draws at least 89; neighbouring characters one apart or equal: at most 17
        # of its 31 pairs. Typed runs ("abcdef...", "0123...") have nearly all their pairs so.
        if bits < 80 or token in (token + token)[1:-1] or steps > 3 * (len(token) - 1) // 4:
            problem = "looks guessable (repeated, sequential or too few distinct characters)"
    if problem:
        raise HumansError(f"the admin token {problem}", field=source,
                          hint=f"make one with: {MAKE_ADMIN_TOKEN}")


def load_study_config(path: str | os.PathLike[str] | None) -> StudyConfig:
    """Read a study config file (YAML); ``None`` gives the defaults. Errors name the file, line and field,
    with a suggestion for a mistyped key."""
    if path is None:
        return StudyConfig()
    file = Path(path)
    if not file.is_file():
        raise HumansError("no such study config file", file=file,
                          hint="pass the YAML file described in docs/humans.md")
    data, lines = read_yaml(file, HumansError)  # the size and alias limits every YAML file gets
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise HumansError("a study config must be a mapping of fields", file=file, line=1)
    return validate_yaml(data, StudyConfig, HumansError, file=file, lines=lines,
                         hint="see docs/humans.md for the fields a study config takes")
