"""What the zipped-table import and the human-data mapping cost, against plain baselines in the same run.

1. Importing the OffTheRails mild set (two zipped files, row repair on) vs importing the cc file alone with a
   plain 13-column layout (same rows, no zipping): the ratio is the cost of zipping and checking both versions.
2. Matching the 1,840 human rows (3,680 answers) to items through the mapping vs pandas merely reading the CSV.
3. Scaling: the human table replicated ×20 (73,600 answers), to show the matching is linear.

    .venv/bin/python benchmarks/families.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "offtherails"
EXAMPLE = REPO / "examples" / "offtherails"

from proceval.generate import generate  # noqa: E402
from proceval.humans.data import import_humans, load_mapping  # noqa: E402
from proceval.templates import load_template, load_template_text  # noqa: E402


def best_of(n: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    tmp = Path(tempfile.mkdtemp())
    moral = load_template("moral")
    plain_text = moral.source_text.split("\ntable:\n")[0] + """
table:
  separator: ";"
  columns: [m_context, m_opportunity, m_harm, m_good, m_colleague_opportunity, m_external_cause, m_structure,
            m_evitable_action, m_inevitable_action, m_evitable_prevention, m_inevitable_prevention,
            m_action, m_prevention]
  extract:
    agent: {source: m_context, pattern: "^\\\\s*([^,]+?)\\\\s*,"}
"""
    plain_text = plain_text.replace("lexicon: moral_lexicon.yaml", "")
    # the plain baseline renders only the means sentences: give the s_* variables the means text
    for part in ("context", "opportunity", "colleague_opportunity", "structure", "evitable_action",
                 "inevitable_action", "evitable_prevention", "inevitable_prevention", "action", "prevention"):
        plain_text = plain_text.replace("{{ s_" + part + " }}", "{{ m_" + part + " }}")
        plain_text = plain_text.replace("else s_" + part + " }}", "else m_" + part + " }}")
    plain = load_template_text(plain_text.replace('pattern: "^As a side effect "', 'pattern: "^As a means "'))
    files = [DATA / "cc_stage_2_mild.csv", DATA / "coc_stage_2_mild.csv"]
    counter = iter(range(10**6))
    zipped_s = best_of(3, lambda: generate(moral, out=tmp / f"z{next(counter)}", from_files=files, progress=False))
    plain_s = best_of(3, lambda: generate(plain, out=tmp / f"p{next(counter)}", from_files=files[:1],
                                          progress=False))
    dataset = generate(moral, out=tmp / "ds", from_files=files, progress=False)
    mapping = load_mapping(EXAMPLE / "human_exp2_ratings.mapping.yaml")
    ratings = DATA / "human_exp2_ratings.csv"
    table = pd.read_csv(ratings, dtype=str, keep_default_na=False)
    read_s = best_of(5, lambda: pd.read_csv(ratings, dtype=str, keep_default_na=False))
    match_s = best_of(3, lambda: import_humans(table, dataset, mapping))
    big = pd.concat([table] * 20, ignore_index=True)
    big_s = best_of(1, lambda: import_humans(big, dataset, mapping))
    print(json.dumps({
        "zipped_import_s": round(zipped_s, 4), "plain_import_s": round(plain_s, 4),
        "zipped_vs_plain_ratio": round(zipped_s / plain_s, 2),
        "human_match_s": round(match_s, 4), "csv_read_s": round(read_s, 4),
        "match_vs_read_ratio": round(match_s / read_s, 1),
        "answers_per_s": round(3680 / match_s),
        "x20_match_s": round(big_s, 3), "x20_vs_x1_ratio": round(big_s / match_s, 1),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
