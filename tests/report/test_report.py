"""The report: self-contained HTML that renders in headless Chromium, summary.json and files on disk."""

from __future__ import annotations

import csv
import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from proceval.analysis import analyze
from proceval.cli.main import main
from proceval.dataset import Item
from tests.analysis.runfiles import accuracy_answerer, choice_response, write_run
from tests.conftest import choice_item, write_dataset

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    items = [choice_item(s, {"belief": b, "init": i}, answer="a" if b == "true_belief" else "b",
                         text=(HOSTILE + " Story zero.") if s == 0 else None)
             for s in range(12) for b in ("true_belief", "false_belief") for i in ("shown", "hidden")]
    ds = write_dataset(root / "ds", items, factors={"belief": ["true_belief", "false_belief"],
                                                    "init": ["shown", "hidden"]})

    def with_probs(item: Item, rng: random.Random) -> dict[str, Any]:
        p = rng.uniform(0.3, 0.9)
        probs = {item.answer: p, ("b" if item.answer == "a" else "a"): 1 - p}
        order = ["a", "b"] if rng.random() < 0.5 else ["b", "a"]
        return choice_response(item, max(probs, key=lambda k: probs[k]), probs=probs, order=order)

    write_run(ds, root / "model-a", accuracy_answerer(0.8), subject="local/<b>model-a</b>",
              prompts={"system": "</pre><script>alert(2)</script>"})
    write_run(ds, root / "model-b", with_probs, subject="openai/model-b", scoring="logprob")
    rng = random.Random(1)
    rows = ["participant,item_id,response,rt_ms"]
    for p in range(6):
        for item in ds.items:
            answer = item.answer if rng.random() < 0.85 else ("b" if item.answer == "a" else "a")
            rows.append(f"P{p},{item.id},{answer},900")
    (root / "humans.csv").write_text("\n".join(rows) + "\n")
    analyze([root / "model-a", root / "model-b"], out=root / "out", humans=root / "humans.csv", n_boot=200,
            analyses=["validity", "accuracy", "belief_accuracy", "joint", "position_bias", "calibration", "humans",
                      "ratings"])
    return root / "out"


def test_files_written(report: Path) -> None:
    summary = json.loads((report / "summary.json").read_text())
    assert summary["schema_version"] == 1
    assert summary["analyses"]["ratings"]["status"] == "skipped"
    assert summary["analyses"]["ratings"]["requested"] is True
    for name in ("accuracy", "joint", "calibration", "humans", "position_bias"):
        entry = summary["analyses"][name]
        assert entry["status"] == "ok", name
        assert entry["tables"] and entry["figures"], name  # the loops below check something
        for figure in entry["figures"]:
            assert (report / figure["png"]).stat().st_size > 0
            assert (report / figure["svg"]).read_text().lstrip().startswith("<?xml")
        for table in entry["tables"].values():
            assert (report / table["csv"]).is_file()
    overall = summary["analyses"]["accuracy"]["numbers"]["overall"]
    assert set(overall) == {"local/<b>model-a</b>", "openai/model-b", "humans"}
    assert summary["humans"]["participants"] == 6


def test_summary_numbers_match_the_csv_tables_and_the_answers(report: Path) -> None:
    summary = json.loads((report / "summary.json").read_text())
    table = summary["analyses"]["accuracy"]["tables"]["overall"]
    with (report / table["csv"]).open(newline="") as f:
        csv_rows = list(csv.DictReader(f))
    assert [row["subject"] for row in csv_rows] == [row["subject"] for row in table["rows"]]
    for csv_row, row in zip(csv_rows, table["rows"], strict=True):
        assert int(csv_row["n"]) == row["n"] and int(csv_row["correct"]) == row["correct"]
        assert float(csv_row["accuracy"]) == pytest.approx(row["accuracy"])
    # counted from the files the subjects wrote: the runs' `correct` and the human table against the answers
    right: dict[str, list[bool]] = {}
    for run in ("model-a", "model-b"):
        for line in (report.parent / run / "responses.jsonl").read_text().splitlines():
            answer = json.loads(line)
            right.setdefault(answer["subject"], []).append(answer["correct"])
    key = {json.loads(line)["id"]: json.loads(line)["answer"]
           for line in (report.parent / "ds" / "items.jsonl").read_text().splitlines()}
    with (report.parent / "humans.csv").open(newline="") as f:
        right["humans"] = [row["response"] == key[row["item_id"]] for row in csv.DictReader(f)]
    assert {row["subject"]: (row["n"], row["correct"], row["accuracy"]) for row in table["rows"]} == {
        subject: (len(hits), sum(hits), pytest.approx(sum(hits) / len(hits))) for subject, hits in right.items()}


def test_html_is_self_contained_and_escapes_data(report: Path) -> None:
    html = (report / "report.html").read_text()
    assert "<script" not in html.replace("&lt;script", "")
    assert "&lt;script&gt;document.title" in html
    assert "http://" not in html and "https://" not in html
    assert 'src="data:image/png;base64,' in html
    assert "ratings" in html and "no rating items" in html  # the requested, inapplicable analysis is explained


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    page_copy = tmp_path / "moved"
    shutil.copytree(report, page_copy)  # opens from anywhere on disk: nothing refers to other files
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            requests: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (errors.append("dialog: " + d.message), d.dismiss()))
            page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
            page.goto((page_copy / "report.html").as_uri())
            page.wait_for_load_state("load")
            sizes = page.eval_on_selector_all(
                "figure img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")
            assert len(sizes) >= 6
            assert all(done and w > 0 and h > 0 for done, w, h in sizes), sizes
            assert errors == []
            assert requests == []
            assert page.title() != "pwned"
            assert page.get_by_text(HOSTILE + " Story zero.").count() >= 1
            assert page.get_by_text("</pre><script>alert(2)</script>", exact=False).count() >= 1
            assert page.locator("script").count() == 0
        finally:
            browser.close()


def test_cli_analyze_prints_the_report_path(report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = report.parent
    code = main(["analyze", str(runs / "model-a"), "--out", str(tmp_path / "r"), "--n-boot", "100",
                 "--analyses", "accuracy,effects"])
    out = capsys.readouterr().out
    assert code == 0
    assert str(tmp_path / "r" / "report.html") in out.replace("\n", "")
    assert "effects" in out and "not applicable" in out


def test_cli_refuses_runs_of_different_datasets(report: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    other = write_dataset(tmp_path / "other", [choice_item(1, {"belief": "true_belief"})])
    write_run(other, tmp_path / "other-run", accuracy_answerer(1.0))
    code = main(["analyze", str(report.parent / "model-a"), str(tmp_path / "other-run"), "--out", str(tmp_path / "x")])
    assert code == 2
    assert "different datasets" in capsys.readouterr().err


def _schema_keys(block: str, section: str) -> set[str]:
    """The quoted key names the schema text lists for ``section`` (a top-level key), values excluded."""
    lines = block.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f'  "{section}":'))
    end = next((i for i in range(start + 1, len(lines)) if re.match(r'  "\w+":', lines[i])), len(lines))
    body = "\n".join(lines[start:end]).split(":", 1)[1]
    body = re.sub(r"#.*", "", body)  # comments
    return set(re.findall(r'(?<!\| )"([a-z0-9_]+)"(?=\s*[:,}\]\n]|\s*$)', body))


def test_summary_json_has_exactly_the_keys_docs_summary_schema_lists(report: Path) -> None:
    from tests.conftest import REPO

    doc = (REPO / "docs" / "summary-schema.md").read_text(encoding="utf-8")
    block = re.search(r"```text\n(.*?)```", doc, flags=re.S)
    assert block
    text = block.group(1)
    summary = json.loads((report / "summary.json").read_text())
    assert set(summary) == set(re.findall(r'^  "(\w+)":', text, flags=re.M))
    assert set(summary["dataset"]) == _schema_keys(text, "dataset")
    assert summary["subjects"] and all(set(s) == _schema_keys(text, "subjects") for s in summary["subjects"])
    assert set(summary["humans"]) == _schema_keys(text, "humans")
    assert set(summary["settings"]) == _schema_keys(text, "settings")
    entry_keys = set(re.findall(r'^      "(\w+)":', text, flags=re.M))  # one analysis's entry
    (table_spec,) = re.findall(r'"tables": \{TABLE: \{(.*)\}\}', text)
    (figure_spec,) = re.findall(r'"figures": \[\{(.*)\}\]', text)
    table_keys, figure_keys = (set(re.findall(r'"(\w+)"(?=[:,]|$)', spec)) for spec in (table_spec, figure_spec))
    assert len(entry_keys) >= 8 and table_keys == {"csv", "rows"} and len(figure_keys) == 4
    statuses = set(re.findall(r'"(ok|skipped|failed)"', text.split("NAME: {", 1)[1]))
    numbers_table = set(re.findall(r"^\| `(\w+)` \|", doc, flags=re.M))
    for name, entry in summary["analyses"].items():
        assert set(entry) == entry_keys, name
        assert entry["status"] in statuses
        assert entry["status"] != "ok" or name in numbers_table, f"numbers of {name} are not documented"
        assert all(set(table) == table_keys for table in entry["tables"].values())
        assert all(set(figure) == figure_keys for figure in entry["figures"])

    # the headline numbers: every `path.{placeholder}: {keys}` of the table, on each analysis that ran
    checked = 0
    for row in re.findall(r"^\| `(\w+)` \| (.*) \|$", doc, flags=re.M):
        name, spec = row
        entry = summary["analyses"].get(name)
        if entry is None or entry["status"] != "ok":  # not run on this report's data
            continue
        literal = set(re.findall(r"`(\w+)`", spec))  # documented keys beside the per-subject ones
        for path, keys in re.findall(r"`([^`:]+): \{([^}]+)\}`", spec):
            if ":" in keys:  # `{key: value}` describes a mapping, not a list of keys
                continue
            documented = {key.strip() for key in keys.split(",")}
            nodes = [entry["numbers"]]
            for part in path.split("."):
                if part.startswith("{"):
                    nodes = [value for node in nodes for key, value in node.items() if key not in literal]
                else:  # a part may be absent where the data has nothing for it (no rating items)
                    nodes = [node[part] for node in nodes if part in node]
            for node in nodes:
                assert set(node) == documented, (name, path)
                checked += 1
    assert checked >= 10


def _accuracy_from_files(run: Path) -> float:
    """Share of correct answers, read straight from the run's responses.jsonl."""
    rows = [json.loads(line) for line in (run / "responses.jsonl").read_text().splitlines()]
    return sum(bool(r["correct"]) for r in rows) / len(rows)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install chromium)")
def test_the_first_screen_is_the_summary(report: Path) -> None:
    """A reader sees each subject's headline numbers, people beside models, and what did not apply, before
    scrolling; provenance and sample items come after the results."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto((report / "report.html").as_uri())
            page.wait_for_load_state("load")
            table = page.locator("#summary table")
            box = table.bounding_box()
            assert box is not None and box["y"] + box["height"] <= 800, box
            not_applicable = page.locator("#summary li", has_text="Rating means").bounding_box()
            assert not_applicable is not None and not_applicable["y"] + not_applicable["height"] <= 800
            what = page.locator("#what").bounding_box()
            assert what is not None and what["y"] > 800 * 2  # provenance after the figures and results
            rows = page.eval_on_selector_all("#summary tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.innerText))")
            headers = page.eval_on_selector_all("#summary thead th", "hs => hs.map(h => h.innerText)")
        finally:
            browser.close()
    assert [r[0] for r in rows] == ["local/<b>model-a</b>", "openai/model-b", "humans"]  # people last
    column = headers.index("accuracy")
    for row, run in zip(rows[:2], ("model-a", "model-b"), strict=True):
        assert row[column].startswith(f"{_accuracy_from_files(report.parent / run):.2f} [")
    assert "baseline" in rows[2][headers.index("agreement with people")]
