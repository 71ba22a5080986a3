"""The causal-template file format, as pydantic models. ``docs/templates.md`` is the user's guide to it.

Only the shape of the file is checked here; :mod:`proceval.templates.template` checks that the parts fit
together (names defined, answers valid, graph acyclic, every segment reachable).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Constraints(Strict):
    """Checks a filled value must pass (used by every scenario source, and by the LLM writer)."""

    min_words: int | None = None
    max_words: int | None = None
    pattern: str | None = Field(None, description="a regular expression the value must match (re.search)")
    must_not_mention: list[str] = Field(default_factory=list, description="words or {{ variable }} texts")
    must_differ_from: list[Name] = Field(default_factory=list, description="variables with a different value")


class Variable(Strict):
    description: str
    fill: str | None = Field(None, description="Jinja2 text over lexicon lists, for offline filling")
    constraints: Constraints = Field(default_factory=lambda: Constraints())


class Factor(Strict):
    levels: list[str] = Field(min_length=1)
    description: str = ""

    @field_validator("levels")
    @classmethod
    def _unique_levels(cls, levels: list[str]) -> list[str]:
        seen = set()
        for level in levels:
            if level in seen:
                raise ValueError(f"duplicate level {level!r}")
            seen.add(level)
        return levels


LevelMatch = str | list[str] | None


class Conditions(Strict):
    cross: bool = Field(True, description="start from the full crossing of the factors' levels")
    exclude: list[dict[Name, LevelMatch]] = Field(
        default_factory=list, description="partial level assignments; a matching crossed condition is dropped"
    )
    extra: dict[Name, dict[Name, str | None]] = Field(
        default_factory=dict, description="named conditions added to the crossing (levels may be new or null)"
    )
    name: str | None = Field(None, description="Python format string over factor names for condition names")


class Segment(Strict):
    name: Name
    text: str
    when: str | None = Field(None, description="Jinja2 expression over factors and derived values")


class Option(Strict):
    key: Name
    text: str


class ScalePoint(Strict):
    min: int
    max: int
    labels: dict[int, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_range(self) -> ScalePoint:
        if self.max <= self.min:
            raise ValueError(f"scale max ({self.max}) must be greater than min ({self.min})")
        for point in self.labels:
            if not self.min <= point <= self.max:
                raise ValueError(f"label for {point} is outside the scale {self.min}..{self.max}")
        return self


class Response(Strict):
    type: Literal["choice", "rating", "free_text"]
    options: list[Option] = Field(default_factory=list)
    answer: str | None = Field(None, description="expression giving the correct option's key")
    scale: ScalePoint | None = None

    @field_validator("options", mode="before")
    @classmethod
    def _options_from_mapping(cls, value: Any) -> Any:
        if isinstance(value, dict):  # {key: text} shorthand
            return [{"key": k, "text": v} for k, v in value.items()]
        return value

    @model_validator(mode="after")
    def _check_kind(self) -> Response:
        if self.type == "choice":
            if len(self.options) < 2:
                raise ValueError("a choice response needs at least two options")
            keys = [o.key for o in self.options]
            dup = {k for k in keys if keys.count(k) > 1}
            if dup:
                raise ValueError(f"duplicate option key(s): {', '.join(sorted(dup))}")
            if self.scale is not None:
                raise ValueError("a choice response has options, not a scale")
        elif self.type == "rating":
            if self.scale is None:
                raise ValueError("a rating response needs a scale (min, max, labels)")
            if self.options or self.answer:
                raise ValueError("a rating response has a scale, not options or an answer")
        elif self.options or self.scale or self.answer:
            raise ValueError("a free_text response takes no options, scale or answer")
        return self


class Question(Strict):
    name: Name
    text: str
    when: str | None = None
    response: Response


class SplitRule(Strict):
    into: list[Name] = Field(min_length=2)
    by: Literal["sentences"] = "sentences"


class MatchRule(Strict):
    """Texts whose column order the file does not guarantee, put in order by what each one says."""

    columns: list[str] = Field(min_length=2, description="the columns holding the texts, in any order")
    into: list[Name] = Field(min_length=2, description="the variables the texts go to, one per entry of `states`")
    states: list[Name] = Field(min_length=2, description="the variable each text of `into` restates")
    poles: list[list[str]] = Field(
        default_factory=list,
        description="word stems marking opposite stances (e.g. [[safe], [danger]]) when the texts mention the "
        "same things and differ only in which thing gets which stance")

    @model_validator(mode="after")
    def _same_lengths(self) -> MatchRule:
        if not len(self.columns) == len(self.into) == len(self.states):
            raise ValueError("`columns`, `into` and `states` need the same number of entries")
        return self


class TableFile(Strict):
    """One file of a zipped layout: which file names it matches and the columns it holds."""

    match: str = Field(description="glob pattern on the file name (e.g. 'cc_*.csv')")
    columns: list[str] = Field(min_length=1, description="as TableLayout.columns, for files matching `match`")


class Extract(Strict):
    """A variable taken from part of another column's text: the first capture group of ``pattern``."""

    source: str = Field(description="the column (variable or '_' metadata name) to search")
    pattern: str = Field(description="a regular expression with one capture group (re.search)")


class TableLayout(Strict):
    separator: str = ","
    header: bool = Field(False, description="the first row names the columns")
    columns: list[str] = Field(
        default_factory=list,
        description="variable names in column order (no header) or header names mapped by `rename`; "
        "names starting with '_' are kept as row metadata",
    )
    files: list[TableFile] = Field(
        default_factory=list,
        description="zipped layout: one scenario combines row i of one file per entry (instead of `columns`)",
    )
    rename: dict[str, str] = Field(default_factory=dict, description="header name → variable name")
    split: dict[Name, SplitRule] = Field(default_factory=dict)
    extract: dict[Name, Extract] = Field(default_factory=dict)
    match: list[MatchRule] = Field(
        default_factory=list,
        description="put texts in order by content: each text of `columns` goes to the `into` variable whose "
        "`states` variable it restates; a row where two orders fit equally well is skipped and reported")
    recover: bool = Field(False, description="repair rows where a line break or separator was lost, "
                          "when the repair is unambiguous (reported in the manifest's `recovered`)")

    @model_validator(mode="after")
    def _columns_or_files(self) -> TableLayout:
        if bool(self.columns) == bool(self.files):
            raise ValueError("give either `columns` (one file per scenario) or `files` (a zipped layout)")
        if len(self.files) == 1:
            raise ValueError("a zipped layout (`files`) needs two or more entries; use `columns` for one")
        return self


class PythonHook(Strict):
    function: str = Field(description="'package.module:function' or 'file.py:function' (relative to the template)")
    provides: list[Name] = Field(min_length=1, description="names the function returns, usable in text")


class Judge(Strict):
    rubric: str


class TemplateSpec(Strict):
    name: Name
    title: str = ""
    description: str = ""
    version: int = 1
    variables: dict[Name, Variable]
    graph: list[str | list[Name]] = Field(default_factory=list, description="edges 'cause -> effect'")
    factors: dict[Name, Factor] = Field(default_factory=dict)
    conditions: Conditions = Field(default_factory=lambda: Conditions())
    derived: dict[Name, str] = Field(default_factory=dict, description="causal mechanisms: name → expression")
    story: list[Segment] = Field(min_length=1)
    questions: list[Question] = Field(min_length=1)
    table: TableLayout | None = None
    lexicon: dict[Name, list[Any] | dict[str, Any]] | str | None = None
    python: PythonHook | None = None
    examples: list[dict[Name, str]] = Field(default_factory=list)
    judge: Judge | None = None
    references: list[str] = Field(default_factory=list)
