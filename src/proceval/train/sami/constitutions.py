"""Constitutions: principle pairs (a positive and a negative version of each principle), written by hand in YAML
or by a principle-writer model, validated and combined into the constitutions SAMI trains on.

A principles file::

    principles:
      - name: brevity
        positive: Answer in one or two short sentences.
        negative: Answer at length, with many sentences and details.
        proxy: words          # optional: a measure of the effect that needs no judge (see evaluate.PROXIES)
      - name: warmth
        about: how friendly the tone is   # no versions given: the writer model (--writer) writes them

Unknown keys are an error naming the file, line and field. A pair whose versions are empty or identical (after
trimming and case folding) is dropped and counted, as is a writer's reply without both versions. From k pairs
come 2**k constitutions: every choice of the positive or negative version of each principle.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proceval.errors import ProcevalError
from proceval.ids import content_id

FILE = "constitutions.json"
MAX_PAIRS = 4  # 2**4 = 16 constitutions: each response is scored under every one of them


class SamiError(ProcevalError):
    """A SAMI input (principles, queries, data directory) that cannot be used."""


class PrincipleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    positive: str | None = None
    negative: str | None = None
    about: str | None = Field(None, description="what the principle is about, for the writer model")
    proxy: str | None = None


class PrinciplesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    principles: list[PrincipleSpec] = Field(min_length=1)


class Pair(BaseModel):
    name: str
    positive: str
    negative: str
    proxy: str | None = None


class Constitution(BaseModel):
    """One choice of versions: ``signs[k]`` is ``+`` (positive) or ``-`` for pair k."""

    id: str
    label: str
    principles: list[str]
    signs: list[str]


class ConstitutionSet(BaseModel):
    pairs: list[Pair]
    constitutions: list[Constitution]
    writer: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)


def read_principles(path: str | Path) -> PrinciplesFile:
    from proceval.templates.yamlio import read_model

    return read_model(path, PrinciplesFile, SamiError,
                      hint="each principle has name, positive, negative (or about), proxy")


def _same(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


WRITER_PROMPT = (
    "Write two opposite instructions for an AI assistant about this principle: {name} ({about}).\n"
    "Reply in exactly two lines:\nPositive: <the instruction that follows the principle>\n"
    "Negative: <the instruction that does the opposite>"
)
_LINE = re.compile(r"^\s*(positive|negative)\s*:\s*(.+?)\s*$", re.I | re.M)


def parse_writer_reply(text: str) -> tuple[str, str] | None:
    """The (positive, negative) versions in a writer's reply, or None when it lacks one of them."""
    found: dict[str, str] = {}
    for key, value in _LINE.findall(text):
        found.setdefault(key.lower(), value.strip().strip('"'))
    if "positive" not in found or "negative" not in found:
        return None
    return found["positive"], found["negative"]


def make_constitutions(spec: PrinciplesFile, *, writer: Any = None, seed: int = 0,
                       source: str | Path = "principles") -> ConstitutionSet:
    """Pairs from ``spec`` (versions missing → asked of ``writer``, a LanguageModel), validated and combined."""
    from proceval.models import GenerateConfig, Message

    counts = {"pairs_given": len(spec.principles), "written": 0, "malformed": 0, "identical": 0}
    pairs: list[Pair] = []
    for index, p in enumerate(spec.principles):
        positive, negative = p.positive, p.negative
        if positive is None or negative is None:
            if writer is None:
                raise SamiError(f"principle {p.name!r} has no positive/negative versions and no writer model was "
                                "given", file=source, field=f"principles.{index}",
                                hint="write both versions, or pass a writer model (--writer MODEL)")
            prompt = WRITER_PROMPT.format(name=p.name, about=p.about or p.name)
            reply = writer.generate([Message("user", prompt)],
                                    GenerateConfig(max_tokens=120, temperature=0.0, seed=seed))
            counts["written"] += 1
            parsed = parse_writer_reply(reply.text)
            if parsed is None:
                counts["malformed"] += 1
                continue
            positive, negative = parsed
        if not positive.strip() or not negative.strip():
            counts["malformed"] += 1
            continue
        if _same(positive, negative):
            counts["identical"] += 1
            continue
        pairs.append(Pair(name=p.name, positive=positive.strip(), negative=negative.strip(), proxy=p.proxy))
    if not pairs:
        raise SamiError(f"no usable principle pair ({counts['malformed']} malformed, {counts['identical']} with "
                        "identical versions)", file=source, hint="give pairs whose two versions differ")
    if len(pairs) > MAX_PAIRS:
        raise SamiError(f"{len(pairs)} principle pairs make {2 ** len(pairs)} constitutions; at most {MAX_PAIRS} "
                        "pairs are combined", file=source, field="principles")
    counts["pairs_kept"] = len(pairs)
    constitutions = []
    for signs in itertools.product("+-", repeat=len(pairs)):
        texts = [pair.positive if s == "+" else pair.negative for pair, s in zip(pairs, signs, strict=True)]
        label = " ".join(f"{pair.name}{s}" for pair, s in zip(pairs, signs, strict=True))
        constitutions.append(Constitution(id=content_id(texts, length=12), label=label, principles=texts,
                                          signs=list(signs)))
    return ConstitutionSet(pairs=pairs, constitutions=constitutions,
                           writer=getattr(writer, "spec", None), counts=counts)


def write_constitutions(result: ConstitutionSet, out: str | Path) -> Path:
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    (path / FILE).write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path / FILE


def read_constitutions(path: str | Path) -> ConstitutionSet:
    """``DIR`` (holding constitutions.json) or the file itself."""
    file = Path(path)
    file = file / FILE if file.is_dir() else file
    if not file.is_file():
        raise SamiError("no constitutions here", file=file, hint="make them with `proceval sami constitutions`")
    try:
        return ConstitutionSet.model_validate(json.loads(file.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        raise SamiError(f"not a constitutions file: {str(exc).splitlines()[0]}", file=file) from None


__all__ = ["Constitution", "ConstitutionSet", "Pair", "PrinciplesFile", "SamiError", "make_constitutions",
           "parse_writer_reply", "read_constitutions", "read_principles", "write_constitutions"]
