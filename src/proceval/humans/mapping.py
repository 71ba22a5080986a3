"""The mapping of a human-data table to items: which column gives the participant, scenario, condition
factors and answers (a YAML file ``DATA.mapping.yaml`` beside the data, or a dict), validated by pydantic.
The format is described in :mod:`proceval.humans.data` and docs/families.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from proceval.errors import HumansError
from proceval.templates.yamlio import LineMap, read_yaml, validate_yaml

MAPPING_SUFFIX = ".mapping.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _text_keys(values: dict[Any, Any]) -> dict[str, str]:
    """YAML reads ``1: means`` with an int key; cells are read as text, so compare as text."""
    return {cell_text(k): str(v) for k, v in values.items()}


def _check_pattern(pattern: str | None) -> str | None:
    if pattern is not None:
        try:
            groups = re.compile(pattern).groups
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        if groups < 1:
            raise ValueError(f"the pattern {pattern!r} needs a group (...) around the value")
    return pattern


class ColumnMap(_Strict):
    column: str | list[str] = Field(description="a column, or several whose cells are joined by `join`")
    join: str = Field("_", description="what joins the cells of several columns")
    pattern: str | None = Field(None, description="a regular expression whose first group is the value "
                                "(e.g. '^[^/]+/([a-z]+)_' takes 'belief' from 'safety/belief_joyful_3')")
    values: dict[str, str] = Field(default_factory=dict, description="cell value → level (others kept as is)")

    @field_validator("values", mode="before")
    @classmethod
    def _text_keys(cls, values: Any) -> Any:
        return _text_keys(values) if isinstance(values, dict) else values

    _one_group = field_validator("pattern")(classmethod(lambda cls, p: _check_pattern(p)))

    @property
    def columns(self) -> list[str]:
        return [self.column] if isinstance(self.column, str) else list(self.column)

    def value(self, record: dict[str, Any]) -> str:
        """The cell (or joined cells), through `pattern` and `values`; '' when the pattern finds nothing."""
        raw = self.join.join(cell_text(record[c]) for c in self.columns)
        if self.pattern is not None:
            match = re.search(self.pattern, raw)
            raw = match.group(1) if match else ""
        return self.values.get(raw, raw)

    def describe(self, record: dict[str, Any]) -> str:
        return f"{'+'.join(self.columns)}={self.join.join(cell_text(record[c]) for c in self.columns)!r}"


AnswerForm = Literal["key", "text", "label", "index"]
DEFAULT_FORMS: tuple[AnswerForm, ...] = ("key", "text", "label")  # an index only where the mapping says so


class AnswerMap(_Strict):
    """How a choice answer names its option."""

    accept: list[AnswerForm] = Field(
        default_factory=lambda: list(DEFAULT_FORMS),
        description="tried in order: the option's key, its text, its letter (a, b, …), its 1-based position")
    values: dict[str, str] = Field(default_factory=dict, description="answer → option key (codes of your own)")

    @field_validator("values", mode="before")
    @classmethod
    def _text_keys(cls, values: Any) -> Any:
        return _text_keys(values) if isinstance(values, dict) else values


class ScenarioMap(_Strict):
    column: str
    by: Literal["record", "id", "variable"] = Field(
        "record", description="record: the row number in the imported table file(s); id: the scenario id; "
        "variable: the value of one of the scenario's variables")
    base: int = Field(1, description="for by=record: the value that names the first row (0 or 1)")
    variable: str | None = Field(None, description="for by=variable: the variable to compare")
    file: str | None = Field(None, description="only scenarios imported from files matching this glob")
    pattern: str | None = Field(None, description="a regular expression whose first group is the scenario "
                                "(e.g. '_(\\d+)$' takes 3 from 'safety_expected/belief_relieved_3')")

    _one_group = field_validator("pattern")(classmethod(lambda cls, p: _check_pattern(p)))

    def key(self, record: dict[str, Any]) -> str:
        raw = cell_text(record[self.column])
        if self.pattern is None:
            return raw
        match = re.search(self.pattern, raw)
        return match.group(1) if match else ""

    @model_validator(mode="after")
    def _variable_given(self) -> ScenarioMap:
        if self.by == "variable" and not self.variable:
            raise ValueError("by: variable needs `variable: NAME`")
        return self


class HumanMapping(_Strict):
    """Which columns of a human data table give the participant, scenario, condition, question and response.

    For model answers (:mod:`proceval.humans.model_answers`) ``participant`` names the model column (``model`` and
    ``subject`` are accepted for it); without one, each file's model is named on import."""

    participant: str | None = Field(None, validation_alias=AliasChoices("participant", "model", "subject"))
    scenario: ScenarioMap
    factors: dict[str, ColumnMap | str] = Field(default_factory=dict)
    questions: dict[str, str] = Field(default_factory=dict, description="wide table: question name → column")
    question: ColumnMap | None = Field(None, description="long table: the column naming the question")
    response: str | None = Field(None, description="long table: the response column")
    rt_ms: str | None = None
    answers: AnswerMap = Field(default_factory=AnswerMap, description="how choice answers name options")
    keep: list[str] = Field(default_factory=list, description="columns copied into the long table")
    separator: str = ","

    @model_validator(mode="after")
    def _wide_or_long(self) -> HumanMapping:
        if bool(self.questions) == bool(self.question or self.response):
            raise ValueError("give either `questions` (one response column per question) or `question` and "
                             "`response` (a column naming the question and one response column)")
        if (self.question is None) != (self.response is None):
            raise ValueError("a long table needs both `question` and `response`")
        return self

    def factor_map(self, factor: str) -> ColumnMap | None:
        spec = self.factors.get(factor)
        if isinstance(spec, str):  # normalise once: this is asked for every row
            spec = self.factors[factor] = ColumnMap(column=spec)
        return spec

    def used_columns(self) -> list[str]:
        columns = [c for c in (self.participant, self.scenario.column) if c]
        columns += [c for s in self.factors.values() for c in (ColumnMap(column=s) if isinstance(s, str) else s).columns]
        columns += list(self.questions.values())
        columns += [c for c in (self.question.columns if self.question else []) if c]
        columns += [c for c in (self.response, self.rt_ms) if c]
        return [*columns, *self.keep]


def find_mapping(data: str | os.PathLike[str]) -> Path | None:
    """The mapping file beside a data file (``ratings.csv`` → ``ratings.mapping.yaml``), if there is one."""
    path = Path(data)
    candidate = path.with_name(path.stem + MAPPING_SUFFIX)
    return candidate if candidate.is_file() else None


def load_mapping(source: str | os.PathLike[str] | dict[str, Any] | HumanMapping) -> HumanMapping:
    """A mapping from a YAML file, a dict (e.g. a section of a study file) or an existing mapping."""
    if isinstance(source, HumanMapping):
        return source
    file: Path | None = None
    if isinstance(source, dict):
        data: Any = source
        lines = LineMap()
    else:
        file = Path(source)
        if not file.is_file():
            raise HumansError("no such mapping file", file=file)
        data, lines = read_yaml(file, HumansError)
    return validate_yaml(data, HumanMapping, HumansError, file=file, lines=lines,
                         hint="see docs/families.md (human data) for the mapping keys")


def cell_text(value: Any) -> str:
    """A table cell as trimmed text (``""`` when empty; ``3.0`` → ``"3"``)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
