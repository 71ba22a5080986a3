"""The built-in ``syllogisms`` task: the belief-bias design (Evans, Barston & Pollard, 1983) as choice items.

Factors validity × believability: each item is a categorical syllogism that is valid or invalid, whose
conclusion is believable or unbelievable, and the question asks whether the conclusion follows (keys ``valid``,
``invalid``). A content effect is accuracy on items where logic and belief agree (valid-believable,
invalid-unbelievable) minus where they conflict.

Each conclusion form has one valid and one invalid argument, so validity is not readable off the conclusion:

=============  ===========================================  =============================================
conclusion     valid                                        invalid
=============  ===========================================  =============================================
All S are P    All M are P; All S are M (Barbara)           All P are M; All S are M (undistributed middle)
No S are P     No M are P; All S are M (Celarent)           All M are P; No S are M (illicit major)
Some S are P   All M are P; Some S are M (Darii)            Some M are P; Some S are M (undistributed middle)
Some S are     No M are P; Some S are M (Ferio)             All M are P; Some S are not M (illicit major)
not P
=============  ===========================================  =============================================

Item ``index`` takes the cell (validity × believability) ``index mod 4`` and the conclusion form
``(index div 4) mod 4``, so every cell holds every form equally often.
"""

from __future__ import annotations

import random

from proceval.core.task import NoOptions, Problem, task

FORMS = ("all", "no", "some", "some-not")
OPTIONS = {"valid": "Valid", "invalid": "Invalid"}
# premise patterns (major, minor) per conclusion form and validity; M the middle term
ARGUMENTS = {
    ("all", True): (("all", "M", "P"), ("all", "S", "M")),
    ("all", False): (("all", "P", "M"), ("all", "S", "M")),
    ("no", True): (("no", "M", "P"), ("all", "S", "M")),
    ("no", False): (("all", "M", "P"), ("no", "S", "M")),
    ("some", True): (("all", "M", "P"), ("some", "S", "M")),
    ("some", False): (("some", "M", "P"), ("some", "S", "M")),
    ("some-not", True): (("no", "M", "P"), ("some", "S", "M")),
    ("some-not", False): (("all", "M", "P"), ("some-not", "S", "M")),
}
# Conclusion terms (S, P) per form and believability. Believability as stated by us from common knowledge:
# believable means the conclusion is true of the real categories, unbelievable that it is plainly false.
LEXICON: dict[tuple[str, bool], tuple[tuple[str, str], ...]] = {
    ("all", True): (("poodles", "dogs"), ("salmon", "fish"), ("roses", "plants"), ("sparrows", "birds")),
    ("all", False): (("dogs", "poodles"), ("fish", "salmon"), ("plants", "roses"), ("birds", "sparrows")),
    ("no", True): (("trees", "animals"), ("rocks", "living things"), ("cats", "reptiles"), ("cars", "plants")),
    ("no", False): (("dogs", "animals"), ("roses", "plants"), ("salmon", "fish"), ("sparrows", "birds")),
    ("some", True): (("animals", "pets"), ("birds", "singers"), ("fish", "predators"), ("plants", "poisonous things")),
    ("some", False): (("rocks", "animals"), ("trees", "mammals"), ("cars", "plants"), ("stones", "living things")),
    ("some-not", True): (("animals", "pets"), ("birds", "flyers"), ("plants", "trees"), ("fish", "predators")),
    ("some-not", False): (("dogs", "animals"), ("poodles", "dogs"), ("roses", "plants"), ("salmon", "fish")),
}
# middle terms: neutral categories whose statements are neither obviously true nor false of the terms above
MIDDLES = ("things in the photograph", "things kept in the museum", "creatures in the story", "members of the club",
           "items on the list", "things Sam drew")


def statement(form: str, subject: str, predicate: str) -> str:
    if form == "some-not":
        return f"Some {subject} are not {predicate}."
    return f"{form.capitalize()} {subject} are {predicate}."


@task("syllogisms", config=NoOptions)
def syllogisms(config: NoOptions, rng: random.Random, index: int) -> Problem:
    """Valid and invalid syllogisms with believable or unbelievable conclusions (belief bias), valid/invalid."""
    valid = index % 2 == 0
    believable = (index // 2) % 2 == 0
    form = FORMS[(index // 4) % len(FORMS)]
    subject, predicate = rng.choice(LEXICON[(form, believable)])
    middle = rng.choice(MIDDLES)
    terms = {"S": subject, "M": middle, "P": predicate}
    premises = [statement(q, terms[a], terms[b]) for q, a, b in ARGUMENTS[(form, valid)]]
    rng.shuffle(premises)
    conclusion = statement(form, subject, predicate)
    text = " ".join(premises) + f" Therefore: {conclusion}"
    question = ("Assume the premises are true. Does the conclusion necessarily follow from them, whatever you "
                "believe about the world?")
    return Problem(
        question=question, answer="valid" if valid else "invalid", text=text, options=dict(OPTIONS),
        condition={"validity": "valid" if valid else "invalid",
                   "believability": "believable" if believable else "unbelievable"},
        metadata={"form": form, "premises": premises, "conclusion": conclusion,
                  "terms": terms},
    )


Syllogisms = syllogisms
