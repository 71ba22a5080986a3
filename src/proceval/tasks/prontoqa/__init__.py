"""The built-in ``prontoqa`` task: PrOntoQA-style deduction (Saparov & He, 2023), True/False choice items.

An entity belongs to the first category of a chain ("Alex is a wumpus. Every wumpus is a tumpus. …"); the last
category of the chain has a property (or its negation), and the question asks "True or false: Alex is (not) P."
Proving the answer takes ``hops`` steps (one rule application each). Distractor rules give every other category
of the chain its own property and give a category off the chain the opposite of the asked property, so the
answer cannot be read off one sentence. Sentences are shuffled.

Options: ``hops`` (a range or list, ``1-5`` or ``1,3``) and ``ontology`` (``fictional``, ``true``, ``false``).
Item ``index`` takes the cell (hops × ontology) ``index mod cells`` and the answer True for even rounds, False for
odd ones, so answers are balanced within every cell. Each item's metadata holds the formal version of the
problem (``formal``), the gold proof in English (``proof``) and as inference blocks (``proof_formal``).

Ontologies (for content effects):

- ``fictional``: made-up category names (wumpus, tumpus, …) and colour/size/temperature adjectives;
- ``true``: real taxonomies from specific to general ("Every cat is a feline.") with properties that are true
  of the category ("Every mammal is warm-blooded.", "Every carnivore is not herbivorous.");
- ``false``: the same categories with every statement false: the chain runs from general to specific ("Every
  animal is a vertebrate.") and every property is negated ("Every mammal is not warm-blooded."), so the right
  answer contradicts world knowledge.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import pairwise

from proceval.core.task import Problem, TaskError, task
from proceval.tasks.logic.language import Block, Literal, Rule

ONTOLOGIES = ("fictional", "true", "false")
MAX_HOPS = 5
OPTIONS = {"true": "True", "false": "False"}

FICTIONAL_CATEGORIES = ("wumpus", "yumpus", "zumpus", "dumpus", "rompus", "numpus", "tumpus", "vumpus", "impus",
                        "jompus", "gorpus", "shumpus", "lempus", "sterpus", "grimpus", "lorpus", "brimpus")
FICTIONAL_PROPERTIES = ("red", "blue", "small", "large", "hot", "cold", "bright", "dull", "sweet", "sour",
                        "happy", "sad", "fast", "slow", "wooden", "metallic", "shy", "loud")
# Real taxonomies, specific → general; each category with a property and whether it holds of every member
# ("Every cat is furry." is true; "Every carnivore is herbivorous." is false, so the true ontology says "not").
TAXONOMIES: tuple[tuple[tuple[str, str, bool], ...], ...] = (
    (("cat", "furry", True), ("feline", "carnivorous", True), ("carnivore", "herbivorous", False),
     ("mammal", "warm-blooded", True), ("vertebrate", "boneless", False), ("animal", "multicellular", True)),
    (("sparrow", "small", True), ("songbird", "aquatic", False), ("bird", "feathered", True),
     ("vertebrate", "boneless", False), ("animal", "multicellular", True), ("organism", "living", True)),
    (("rose", "thorny", True), ("flower", "metallic", False), ("angiosperm", "seedless", False),
     ("plant", "photosynthetic", True), ("eukaryote", "prokaryotic", False), ("organism", "living", True)),
)
ENTITIES = ("Alex", "Max", "Sam", "Fae", "Rex", "Sally", "Polly", "Wren", "Stella", "Sophie")


def parse_hops(text: str) -> list[int]:
    """``"1-5"`` → [1, 2, 3, 4, 5]; ``"1,3"`` → [1, 3]."""
    hops: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            hops += range(int(low), int(high or low) + 1)
    except ValueError:
        raise TaskError(f"hops={text!r} is not a range or list of numbers", field="option hops",
                        hint="write e.g. hops=1-5 or hops=1,3") from None
    if not hops or not all(1 <= h <= MAX_HOPS for h in hops):
        raise TaskError(f"hops={text!r}: every hop count lies in 1..{MAX_HOPS}", field="option hops")
    return sorted(set(hops))


def parse_ontologies(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in ONTOLOGIES]
    if unknown or not names:
        raise TaskError(f"ontology={text!r}: unknown ontology {', '.join(unknown) or '(none given)'}",
                        field="option ontology", hint=f"choose from {', '.join(ONTOLOGIES)}")
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class ProntoQAConfig:
    hops: str = "1-5"  # proof lengths: a range (1-5) or a list (1,3)
    ontology: str = "fictional,true,false"  # fictional, true, false (comma-separated)

    def __post_init__(self) -> None:
        parse_hops(self.hops)
        parse_ontologies(self.ontology)

    def cells(self) -> list[tuple[int, str]]:
        return [(h, o) for h in parse_hops(self.hops) for o in parse_ontologies(self.ontology)]


def article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" and not noun.startswith(("eu", "uni")) else "a ") + noun


Chain = tuple[list[str], list[tuple[str, bool]], tuple[str, str, bool]]


def chain(rng: random.Random, hops: int, ontology: str) -> Chain:
    """The entity's categories (C0 … C_{hops-1}), each one's property and whether it holds (positive) or not,
    and a distractor rule (category off the chain, property, positive). In the fictional ontology the distractor
    gives the opposite of the asked property; in the real ones it is another taxonomy's own property statement
    (true in the true ontology, negated in the false one), since its opposite could contradict world knowledge."""
    if ontology == "fictional":
        names = rng.sample(FICTIONAL_CATEGORIES, hops + 1)
        props = rng.sample(FICTIONAL_PROPERTIES, hops)
        polarities = [rng.random() < 0.5 for _ in range(hops)]
        return names[:hops], list(zip(props, polarities, strict=True)), (names[hops], props[-1], not polarities[-1])
    taxonomy = rng.choice(TAXONOMIES)
    start = rng.randint(0, len(taxonomy) - hops)
    part = list(taxonomy[start:start + hops])
    if ontology == "false":  # general → specific, every property negated: each statement is false
        part = [(name, prop, not holds) for name, prop, holds in reversed(part)]
    used = {name for name, _, _ in taxonomy} | {prop for _, prop, _ in taxonomy}
    others = sorted({entry for t in TAXONOMIES for entry in t if entry[0] not in used and entry[1] not in used})
    category, prop, holds = rng.choice(others)
    return ([name for name, _, _ in part], [(prop, holds) for _, prop, holds in part],
            (category, prop, holds if ontology == "true" else not holds))


def every(category: str, prop: str, positive: bool) -> str:
    return f"Every {category} is {'' if positive else 'not '}{prop}."



@task("prontoqa", config=ProntoQAConfig)
def prontoqa(config: ProntoQAConfig, rng: random.Random, index: int) -> Problem:
    """PrOntoQA-style deduction, True/False (``--option hops=1-5 --option ontology=fictional,true,false``)."""
    cells = config.cells()
    hops, ontology = cells[index % len(cells)]
    answer = (index // len(cells)) % 2 == 0
    categories, properties, (distractor, distractor_prop, distractor_positive) = chain(rng, hops, ontology)
    positive = properties[-1][1]
    entity = rng.choice(ENTITIES)
    target = properties[-1][0]
    asked_positive = positive if answer else not positive

    rules = [f"Every {a} is {article(b)}." for a, b in pairwise(categories)]
    rules += [every(c, p, holds) for c, (p, holds) in zip(categories, properties, strict=True)]
    rules.append(every(distractor, distractor_prop, distractor_positive))  # about a category off the chain
    rng.shuffle(rules)
    fact = f"{entity} is {article(categories[0])}."
    sentences = [fact, *rules] if rng.random() < 0.5 else [*rules, fact]
    question = f"True or false: {entity} is {'' if asked_positive else 'not '}{target}."

    obj = entity.lower()
    proof = [fact]
    formal_proof: list[str] = []
    for a, b in pairwise(categories):
        proof.append(f"Every {a} is {article(b)}, so {entity} is {article(b)}.")
        formal_proof.append(str(Block("infer", Literal(b, obj))))
    proof.append(f"{every(categories[-1], target, positive)[:-1]}, so {entity} is "
                 f"{'' if positive else 'not '}{target}.")
    formal_proof.append(str(Block("infer", Literal(target, obj, not positive))))

    props = list(dict.fromkeys([*categories, distractor, *(p for p, _ in properties), distractor_prop]))
    formal = [str(Block("object", obj)), *(str(Block("prop", p)) for p in props)]
    formal.append(str(Block("axiom", Literal(categories[0], obj))))
    formal += [str(Block("axiom", Rule((Literal(a, "x"),), Literal(b, "x"))))
               for a, b in pairwise(categories)]
    formal += [str(Block("axiom", Rule((Literal(c, "x"),), Literal(p, "x", not holds))))
               for c, (p, holds) in zip(categories, properties, strict=True)]
    formal.append(str(Block("axiom", Rule((Literal(distractor, "x"),),
                                           Literal(distractor_prop, "x", not distractor_positive)))))
    formal.append(str(Block("goal", Literal(target, obj, not asked_positive))))
    return Problem(
        question=question, answer="true" if answer else "false", text=" ".join(sentences), options=dict(OPTIONS),
        condition={"hops": str(hops), "ontology": ontology},
        metadata={"formal": formal, "proof": proof, "proof_formal": formal_proof,
                  "derived": {"hops": hops}},
    )


ProntoQA = prontoqa
