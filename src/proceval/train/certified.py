"""Self-improvement on certified reasoning (LogicGuide, Poesia et al. 2023): ``proceval train certified``.

Two arms start from the same model and train on the PrOntoQA problems of ``data``:

- ``certified``: samples under the logic guide (``logic-guide``) and keeps a trace only if the guide certifies it:
  every block accepted, every inference step valid, and the answer it proved is the gold answer;
- ``answer-right`` (the paper's baseline): samples without the guide (``logic-cot``, the same prompt and options)
  and keeps every trace whose stated answer is right, certified or not.

Each round samples ``samples`` traces per problem (temperature > 0; sample j of round r is the run seeded
``seed + 1000 r + j``, each call seeded per problem as every solver does), keeps them by the arm's rule and
fine-tunes the arm's current model on them (the solver's prompt rendered by the model's chat template → the trace)
through :func:`proceval.train.sft.train_on`, i.e. :func:`proceval.train.fit.fit`. Round r of an arm samples with
that arm's model of round r − 1. Last, each arm's final model answers the held-out problems of ``held_out`` under
the guide (greedy), and the start model too, for reference.

Layout of ``out``::

    round-R/ARM/samples/sJ/   the sampling runs (run directories; resume after a kill)
    round-R/ARM/kept.jsonl    the kept traces (item, prompt, trace, answer)
    round-R/ARM/model/        the model fine-tuned in round R (``hf/OUT/round-R/ARM/model``)
    round-R/ARM/round.json    the round's counts, written last: a rerun skips the round
    eval/NAME/                the held-out run of each arm's final model (and of ``start``)
    certified.json            per arm and round: sampled, kept, skipped by reason; held-out accuracy, Wilson CI
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from proceval.analysis.bootstrap import wilson_ci
from proceval.errors import ProcevalError
from proceval.ids import file_sha256
from proceval.train.sft import Example, TrainSettings, train_on

REPORT = "certified.json"
ARMS = {"certified": "logic-guide", "answer-right": "logic-cot"}  # arm → solver it samples with
TASK = "prontoqa"


def keep_certified(record: dict[str, Any], gold: str | None) -> bool:
    """The guide certified the trace: no refused block, every inference valid, the gold answer proved."""
    logic = record.get("logic") or {}
    return (bool(logic.get("certified")) and logic.get("answer") == gold
            and logic.get("valid_inferences") == logic.get("inferences"))


def keep_answer_right(record: dict[str, Any], gold: str | None) -> bool:
    """The trace's final answer is the gold answer, however it got there."""
    return (record.get("logic") or {}).get("answer") == gold


RULES = {"certified": keep_certified, "answer-right": keep_answer_right}


def _skip_reason(record: dict[str, Any]) -> str | None:
    """Why a sampled record cannot be judged at all (counted), or None."""
    if record.get("status") not in (None, "ok"):
        return f"status {record.get('status')}"
    if not record.get("raw") or not isinstance(record.get("logic"), dict):
        return "no trace"
    return None


def judge(records: list[dict[str, Any]], golds: dict[str, str | None], arm: str
          ) -> tuple[list[dict[str, Any]], Counter[str]]:
    """(kept records, counts of the rest by reason) under ``arm``'s rule."""
    kept, left = [], Counter[str]()
    for record in records:
        reason = _skip_reason(record)
        if reason is None and not RULES[arm](record, golds[record["item_id"]]):
            reason = "not certified" if arm == "certified" else "wrong answer"
        if reason is None:
            kept.append(record)
        else:
            left[reason] += 1
    return kept, left


def _solver(arm: str, options: dict[str, str]) -> str:
    from proceval.solvers import configured

    return configured(ARMS[arm], options)


def _check_dataset(path: str | os.PathLike[str], field: str) -> Any:
    from proceval.dataset import Dataset

    ds = Dataset.load(path)
    other = sorted({item.template for item in ds.items} - {TASK})
    if other:
        raise ProcevalError(f"{ds.path} holds {', '.join(other)} items; certified reasoning trains on {TASK}",
                            field=field, hint=f"generate one with `proceval generate {TASK} --out DIR`")
    return ds


def _prompt(item: Any, options: dict[str, str], tokenizer: Any) -> str:
    """The prompt the logic solver sends for ``item``, rendered by ``tokenizer``'s chat template as the ``hf``
    backend renders it (so a trained model reads at run time what it read in training)."""
    from proceval.models.chat import render_chat
    from proceval.solvers import SOLVERS
    from proceval.solvers.logic_solver import messages_for

    opts = SOLVERS.get(_solver("certified", options)).options
    template = getattr(tokenizer, "chat_template", None)
    return render_chat(template if isinstance(template, str) else None,
                       messages_for(item, opts.formalise, opts.examples),
                       bos_token=tokenizer.bos_token or "", eos_token=tokenizer.eos_token or "")


def _tokenizer(model: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(_folder(model))
    except (OSError, ValueError) as exc:
        raise ProcevalError(f"transformers could not load {model!r}: {str(exc).splitlines()[0]}", field="model",
                            hint="give hf/smollm2-135m or hf/PATH of a trained model folder") from None


def _folder(model: str) -> str:
    from proceval.models.hf import embedded_folder
    from proceval.models.llamacpp import EMBEDDED

    name = model.removeprefix("hf/")
    if name in EMBEDDED:
        return str(embedded_folder(name))
    if not (Path(name) / "config.json").is_file():
        raise ProcevalError(f"cannot load model {model!r}: no transformers folder there", field="model",
                            hint="give hf/smollm2-135m (the embedded model) or hf/PATH of a trained model folder")
    return name


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _round(ds: Any, arm: str, model: str, sampler: str, here: Path, *, number: int, samples: int, problems: int,
           options: dict[str, str], temperature: float, settings: TrainSettings, seed: int,
           progress: bool) -> dict[str, Any]:
    """Sample, keep and train one round of one arm in ``here``; returns its row (also ``here/round.json``)."""
    from proceval.run import run_dataset
    from proceval.run.io import load_run

    done = here / "round.json"
    if done.is_file():
        return dict(json.loads(done.read_text(encoding="utf-8")))
    items = ds.item_map()
    records = []
    for j in range(1, samples + 1):
        run_dataset(ds, sampler, here / "samples" / f"s{j}", solver=_solver(arm, options), limit=problems,
                    temperature=temperature, seed=seed + 1000 * number + j, progress=progress)
        records += load_run(here / "samples" / f"s{j}").responses
    kept, left = judge(records, {i: item.answer for i, item in items.items()}, arm)
    tokenizer = _tokenizer(model)
    rows = [{"item_id": r["item_id"], "prompt": _prompt(items[r["item_id"]], options, tokenizer),
             "trace": r["raw"], "answer": r["logic"]["answer"]} for r in kept]
    here.mkdir(parents=True, exist_ok=True)
    (here / "kept.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    row: dict[str, Any] = {"round": number, "arm": arm, "model": model, "sampled_with": sampler, "sampled": len(records),
                           "kept": len(kept), "problems_kept": len({r["item_id"] for r in kept}),
                           "left_out": dict(left)}
    if not kept:
        raise ProcevalError(f"round {number}, arm {arm}: no kept trace among {len(records)} sampled "
                            f"({', '.join(f'{k} {v}' for k, v in left.items()) or 'none'})", field="problems",
                            hint="sample more (--problems, --samples), or formalise with --option formalise=proceval")
    manifest = train_on([Example([], 0, r["trace"], prompt=r["prompt"]) for r in rows], here / "model",
                        model=model, kind=f"certified:{arm}",
                        data={"kept.jsonl": file_sha256(str(here / "kept.jsonl"))}, settings=settings,
                        seed=seed + number, extra={"round": number, "temperature": temperature, **options},
                        progress=progress)
    row.update(steps=manifest.steps, train_loss=manifest.train_loss, trained_on=manifest.counts["examples"],
               left_out_training={k: v for k, v in manifest.counts.items() if k not in ("examples", "tokens")})
    _write_json(done, row)
    return row


def evaluate(model: str, held_out: Any, out: Path, *, options: dict[str, str], limit: int | None,
             level: float = 0.95, progress: bool = True) -> dict[str, Any]:
    """Accuracy of ``model`` under the guide on ``held_out`` (greedy) with its Wilson interval at ``level``."""
    from proceval.run import run_dataset

    run = run_dataset(held_out, model, out, solver=_solver("certified", options), limit=limit, progress=progress)
    n = len(run.responses)
    k = sum(bool(r.get("correct")) for r in run.responses)
    low, high = wilson_ci(k, n, level)
    return {"model": model, "n": n, "correct": k, "accuracy": k / n if n else None, "ci_low": float(low),
            "ci_high": float(high), "level": level,
            "certified": sum(bool((r.get("logic") or {}).get("certified")) for r in run.responses)}


def certified(model: str, data: str | os.PathLike[str], out: str | os.PathLike[str], *,
              held_out: str | os.PathLike[str] | None = None, rounds: int = 1, problems: int = 100,
              samples: int = 2, eval_problems: int | None = None, temperature: float = 0.8,
              options: dict[str, str] | None = None, settings: TrainSettings | None = None,
              sample_with: str | None = None, arms: tuple[str, ...] = tuple(ARMS), seed: int = 0,
              force: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run ``rounds`` of both arms from ``model`` on ``data`` into ``out``, then evaluate each arm's final model
    (and ``model``) on ``held_out``; returns (and writes to ``out/certified.json``) the report. ``sample_with``
    (e.g. ``local/smollm2-135m``: the same weights on llama.cpp, faster) stands in for the start model wherever
    it only generates: round 1's sampling and the start model's evaluation."""
    if rounds < 1 or problems < 1 or samples < 1:
        bad = "rounds" if rounds < 1 else "problems" if problems < 1 else "samples"
        raise ProcevalError(f"{bad} must be 1 or more", field=bad)
    if temperature <= 0:
        raise ProcevalError("sampling needs a temperature above 0", field="temperature")
    unknown = [arm for arm in arms if arm not in ARMS]
    if unknown or not arms:
        raise ProcevalError(f"unknown arm {unknown[0]!r}" if unknown else "no arm given", field="arms",
                            hint=f"choose from {', '.join(ARMS)}")
    options = dict(options or {})
    _solver("certified", options)  # refuses unknown options before any work
    start = model if model.startswith("hf/") else f"hf/{model}"
    _folder(start)  # a model transformers can load, or one clear error
    ds = _check_dataset(data, "data")
    test = _check_dataset(held_out, "held_out") if held_out is not None else None
    root = Path(out)
    if force and root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    settings = settings or TrainSettings(epochs=1.0, batch_size=4, learning_rate=2e-5)
    report: dict[str, Any] = {"start": start, "data": str(ds.path), "held_out": str(test.path) if test else None,
                              "problems": problems, "samples": samples, "temperature": temperature,
                              "options": options, "rounds": [], "evaluation": {}}
    current = dict.fromkeys(arms, start)
    for number in range(1, rounds + 1):
        for arm in arms:
            sampler = sample_with if sample_with and number == 1 else current[arm]
            row = _round(ds, arm, current[arm], sampler, root / f"round-{number}" / arm, number=number, samples=samples,
                         problems=problems, options=options, temperature=temperature, settings=settings,
                         seed=seed, progress=progress)
            report["rounds"].append(row)
            current[arm] = f"hf/{root / f'round-{number}' / arm / 'model'}"
            _write_json(root / REPORT, report)
    if test is not None:
        trained = {i.text + i.question for i in ds.items[:problems]}
        report["held_out_overlap"] = sum(i.text + i.question in trained for i in test.items[:eval_problems])
        for name, spec in {"start": sample_with or start, **current}.items():
            report["evaluation"][name] = evaluate(spec, test, root / "eval" / name, options=options,
                                                  limit=eval_problems, progress=progress)
            _write_json(root / REPORT, report)
    _write_json(root / REPORT, report)
    return report


__all__ = ["ARMS", "REPORT", "certified", "evaluate", "judge", "keep_answer_right", "keep_certified"]
