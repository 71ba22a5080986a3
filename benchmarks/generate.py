"""Generation speed and memory: `tom` filled from the lexicon, streamed to disk.

Prints JSON. Each measurement runs in a fresh subprocess so its peak RSS is its own. The baseline, measured in
the same run on the same scenarios, is what a careful one-off script would do: every template (story, question,
options) compiled once by Jinja2, then the story rendered for every item and written as JSON lines. The ratio
says what proceval's per-scenario rendering (plus ids, validation and provenance) costs or buys against that.
Memory flatness is the ratio of peak RSS between 4,000 and 400 scenarios.

    python benchmarks/generate.py [--scenarios 4000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time, tempfile
from pathlib import Path
mode, n = sys.argv[1], int(sys.argv[2])
out = Path(tempfile.mkdtemp()) / "tom"
from proceval.generate import generate
from proceval.templates import load_template
template = load_template("tom")
start = time.perf_counter()
if mode == "proceval":
    dataset = generate(template, n=n, seed=0, out=out, progress=False)
    items = len(dataset)
else:  # baseline: every template compiled once, the whole story rendered for every item
    import jinja2
    from proceval.scenarios.lexicon import lexicon_scenarios
    env = jinja2.Environment()
    story = env.from_string(" ".join(
        "{% if " + (seg.when or "true") + " %}" + seg.text + "{% endif %}" for seg in template.spec.story))
    questions = [(env.from_string(q.text), [(o.key, env.from_string(o.text)) for o in q.response.options])
                 for q in template.spec.questions]
    items = 0
    out.mkdir(parents=True)
    with open(out / "items.jsonl", "w") as f:
        for scenario in lexicon_scenarios(template, n, 0):
            for condition in template.conditions:
                context = {**scenario.variables, **condition.levels, **condition.derived}
                text = " ".join(story.render(context).split())
                for qi, answer in condition.questions:
                    question, options = questions[qi]
                    f.write(json.dumps({"text": text, "question": question.render(context),
                                        "options": [{"key": k, "text": o.render(context)} for k, o in options],
                                        "answer": answer}) + "\n")
                    items += 1
seconds = time.perf_counter() - start
print(json.dumps({"items": items, "seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(mode: str, n: int) -> dict[str, float]:
    result = subprocess.run([sys.executable, "-c", CHILD, mode, str(n)], capture_output=True, text=True,
                            check=True, cwd=tempfile.gettempdir())
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", type=int, default=4000)
    args = parser.parse_args()
    full = measure("proceval", args.scenarios)
    small = measure("proceval", args.scenarios // 10)
    baseline = measure("baseline", max(args.scenarios // 10, 1))
    ours_small_rate = small["items"] / small["seconds"]
    load = os.getloadavg()
    report = {
        "benchmark": "generate tom from the lexicon, streamed to disk",
        "scenarios": args.scenarios,
        "items": full["items"],
        "seconds": round(full["seconds"], 2),
        "items_per_s": round(full["items"] / full["seconds"]),
        "peak_rss_mb": round(full["peak_rss_mb"], 1),
        "peak_rss_mb_at_one_tenth": round(small["peak_rss_mb"], 1),
        "rss_ratio_10x_items": round(full["peak_rss_mb"] / small["peak_rss_mb"], 2),
        "items_per_s_at_one_tenth": round(ours_small_rate),
        "baseline_compiled_jinja_items_per_s": round(baseline["items"] / baseline["seconds"]),
        "speedup_vs_compiled_jinja": round(ours_small_rate / (baseline["items"] / baseline["seconds"]), 2),
        "targets": {"seconds": 20, "peak_rss_mb": 300},
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(load[0], 2)},
    }
    report["meets_targets"] = report["seconds"] < 20 and report["peak_rss_mb"] < 300
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
