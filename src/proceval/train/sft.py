"""Supervised fine-tuning on Countdown search streams (Stream of Search): ``proceval train sft``.

Reads the ``train.jsonl`` that ``proceval search`` wrote and trains a model (a preset from scratch, or
``hf/PATH``) on either the whole search stream (``text="stream"``) or the optimal path only (``"optimal"``).

Each example is the prompt the model reads at run time followed by the text and ``<eos>``; the loss is on the
text only. The prompt is rendered exactly as ``proceval run --model hf/OUT`` renders it (the countdown item's
prompt, then the checkpoint's chat template), so a trained model sees at run time what it saw in training.
The search tokenizer gets a chat template that keeps only the problem's line (``Current State: T:[…],
Operations: []``): the instructions around it are words outside the search language.

Both texts are trained on the same problems: a record is left out (and counted) when either text is missing
or malformed, or when its stream does not fit ``max_length`` tokens — whichever text is trained.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from proceval.errors import ProcevalError
from proceval.train.fit import TrainManifest, fit, training_arguments

TEXTS = ("stream", "optimal")
STREAMS_FILE = "train.jsonl"  # the split trained on; val and val_target stay held out
# The problem's line of the user's message: the instructions around it are not in the search language.
CHAT_TEMPLATE = (
    "{% set ns = namespace(text='') %}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{% set ns.text = message['content'] %}{% endif %}{% endfor %}"
    "{% set parts = ns.text.split('Current State:') %}{{ bos_token }}"
    "{% if parts | length > 1 %}Current State:{{ parts[1].split('\\n')[0] }}{% else %}{{ ns.text }}{% endif %}"
    "{{ '\\n' }}"  # an expression: a newline after a block tag would be trimmed
)


class TrainDataError(ProcevalError):
    """Training data that cannot be used: no streams file, or no usable record in it."""


@dataclass
class Example:
    """One problem and the text to train on (a stream in the search language; or any text after ``prompt``, the
    rendered prompt the model reads at run time, when given)."""

    numbers: list[int]
    target: int
    text: str
    prompt: str | None = None


@dataclass
class Encoded:
    """Tokenized examples and what was left out, by reason."""

    rows: list[dict[str, list[int]]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    tokens: int = 0


def sos_tokenizer() -> Any:
    """The search-language tokenizer with the chat template that shows a model only the problem's line."""
    from proceval.train.tokenizer import search_tokenizer

    tokenizer = search_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


@lru_cache(maxsize=1)
def _builder() -> Any:
    from proceval.solvers.prompts import PromptBuilder

    return PromptBuilder("zero-shot")  # compiles its templates once


def prompt_text(numbers: list[int], target: int, tokenizer: Any) -> str:
    """The prompt ``proceval run --model hf/…`` gives a model with ``tokenizer`` for this problem (the default
    zero-shot prompt through the tokenizer's chat template, ChatML without one) — the same code path."""
    from proceval.models.chat import render_chat
    from proceval.tasks.countdown import problem_item

    messages = _builder().build(problem_item(numbers, target, solution=[]), None).messages
    template = getattr(tokenizer, "chat_template", None)
    return render_chat(template if isinstance(template, str) else None, messages,
                       bos_token=tokenizer.bos_token or "", eos_token=tokenizer.eos_token or "")


def _problem(row: Any) -> tuple[list[int], int] | None:
    if not isinstance(row, dict):
        return None
    numbers, target = row.get("numbers"), row.get("target")
    if not isinstance(numbers, list) or not all(isinstance(n, int) for n in numbers) or not isinstance(target, int):
        return None
    return numbers, target


def read_streams(path: str | os.PathLike[str], text: str) -> tuple[list[Example], list[Example], Counter[str]]:
    """The records of a streams folder (or its ``train.jsonl``): (examples of ``text``, their streams, counts
    of records left out by reason). A record is malformed when it is not JSON with ``numbers`` and ``target``,
    or when its stream or optimal path is missing or does not start with the problem's line."""
    if text not in TEXTS:
        raise TrainDataError(f"unknown text {text!r}", field="text", hint="choose stream or optimal")
    file = Path(path)
    file = file / STREAMS_FILE if file.is_dir() else file
    if not file.is_file():
        raise TrainDataError("no streams file", file=file, hint="make one with `proceval search DATA --out DIR`")
    chosen: list[Example] = []
    streams: list[Example] = []
    skipped: Counter[str] = Counter()
    with file.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                skipped["malformed: not JSON"] += 1
                continue
            problem = _problem(row)
            if problem is None:
                skipped["malformed: no numbers/target"] += 1
                continue
            numbers, target = problem
            first = f"Current State: {target}:{numbers}, Operations: []"
            texts = {name: row.get(name) for name in TEXTS}
            if texts["optimal"] is None:
                skipped["unsolvable: no optimal path"] += 1
                continue
            if not all(isinstance(t, str) and t.startswith(first) for t in texts.values()):
                skipped["malformed: stream does not start with the problem"] += 1
                continue
            chosen.append(Example(numbers, target, str(texts[text])))
            streams.append(Example(numbers, target, str(texts["stream"])))
    return chosen, streams, skipped


def encode(examples: Iterable[Example], tokenizer: Any, max_length: int, *,
           fit_check: Iterable[Example] | None = None) -> Encoded:
    """Prompt + text + ``<eos>`` for each example, labels on the text only. An example is left out when its
    text has tokens outside the vocabulary, or when it (or its ``fit_check`` partner: the stream of the same
    problem) is longer than ``max_length`` tokens."""
    out = Encoded()
    examples = list(examples)
    partners = list(fit_check) if fit_check is not None else examples

    def ids(texts: list[str]) -> list[list[int]]:  # one call: the Rust tokenizer batches
        return list(tokenizer(texts, add_special_tokens=False)["input_ids"]) if texts else []

    prompts = ids([e.prompt if e.prompt is not None else prompt_text(e.numbers, e.target, tokenizer)
                   for e in examples])
    bodies = ids([e.text for e in examples])
    other = ids([p.text for p in partners]) if partners is not examples else bodies
    for prompt, body, partner in zip(prompts, bodies, other, strict=True):
        if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in body:
            out.skipped["malformed: text outside the search language"] += 1
            continue
        if len(prompt) + max(len(body), len(partner)) + 1 > max_length:
            out.skipped["too long: stream over max_length tokens"] += 1
            continue
        body = [*body, tokenizer.eos_token_id]
        out.rows.append({"input_ids": prompt + body, "labels": [-100] * len(prompt) + body})
        out.tokens += len(prompt) + len(body)
    return out


def load_base(model: str, seed: int) -> tuple[Any, Any, str]:
    """(model, tokenizer, base name): a preset built from scratch (seeded) or ``hf/PATH`` (or a folder)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM, set_seed

    from proceval.models.hf import embedded_folder
    from proceval.models.llamacpp import EMBEDDED
    from proceval.train.models import PRESETS, model_config

    set_seed(seed)
    if model in PRESETS:
        tokenizer = sos_tokenizer()
        return LlamaForCausalLM(model_config(model, tokenizer)), tokenizer, model
    path = model.removeprefix("hf/")
    if path in EMBEDDED:  # the embedded GGUF, de-quantized into a transformers folder once
        path = str(embedded_folder(path))
    if not Path(path).is_dir():
        raise ProcevalError(f"unknown model {model!r}", field="model",
                            hint=f"a preset ({', '.join(PRESETS)}) or hf/PATH of a trained model folder")
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path), str(Path(path))


# Gradient checkpointing pays from about here (2 cores, a step of 4 examples): the 135M model on 800 tokens each
# peaks at 5.9 GB instead of 9.6 for about 5% more time a step; a 1M one on 512 tokens, 0.8 GB instead of 1.1 for 25%
RECOMPUTE_FROM_PARAMETERS = 100_000_000


@dataclass
class TrainSettings:
    """What decides a training's result besides its data (recorded in ``train.json``)."""

    epochs: float = 2.0
    batch_size: int = 16
    learning_rate: float = 1e-3
    max_length: int | None = None  # default: the model's context
    max_steps: int = -1
    warmup_steps: int = 0
    save_steps: int = 200
    # recompute each layer's activations in the backward pass instead of keeping them (the same weights result);
    # None: for models of RECOMPUTE_FROM_PARAMETERS or more
    gradient_checkpointing: bool | None = None

    def record(self, max_length: int) -> dict[str, Any]:
        return {"epochs": self.epochs, "batch_size": self.batch_size, "learning_rate": self.learning_rate,
                "max_length": max_length, "max_steps": self.max_steps, "warmup_steps": self.warmup_steps}


def train_on(examples: list[Example], out: str | os.PathLike[str], *, model: str, kind: str,
             data: dict[str, str], settings: TrainSettings, seed: int = 0, extra: dict[str, Any] | None = None,
             counts: Counter[str] | None = None, fit_check: list[Example] | None = None, force: bool = False,
             progress: bool = True) -> TrainManifest:
    """Tokenize ``examples`` and train ``model`` on them into ``out`` with :func:`proceval.train.fit.fit`."""
    from transformers import DataCollatorForSeq2Seq, Trainer

    base, tokenizer, base_name = load_base(model, seed)
    context = int(getattr(base.config, "max_position_embeddings", 0) or 1024)
    max_length = min(settings.max_length or context, context)
    encoded = encode(examples, tokenizer, max_length, fit_check=fit_check)
    skipped = Counter(counts or {}) + encoded.skipped
    if not encoded.rows:
        raise TrainDataError(f"no example to train on ({sum(skipped.values())} left out: "
                             f"{', '.join(f'{k} {v}' for k, v in skipped.items()) or 'none given'})",
                             hint="check the streams file, or raise --max-length")
    manifest = TrainManifest(kind=kind, base_model=base_name, data=data, seed=seed,
                             settings={**settings.record(max_length), **(extra or {})},
                             counts={"examples": len(encoded.rows), "tokens": encoded.tokens, **skipped})
    checkpointing = settings.gradient_checkpointing
    if checkpointing is None:
        checkpointing = base.num_parameters() >= RECOMPUTE_FROM_PARAMETERS
    args = training_arguments(out, seed=seed, epochs=settings.epochs, batch_size=settings.batch_size,
                              learning_rate=settings.learning_rate, save_steps=settings.save_steps,
                              max_steps=settings.max_steps, warmup_steps=settings.warmup_steps, progress=progress,
                              train_sampling_strategy="group_by_length",  # batches of similar length: less padding
                              recompute_activations=checkpointing)
    trainer = Trainer(model=base, args=args, train_dataset=encoded.rows, processing_class=tokenizer,
                      data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True))
    return fit(trainer, out, manifest, tokenizer=tokenizer, force=force)


def train_sft(data: str | os.PathLike[str], out: str | os.PathLike[str], *, text: str = "stream",
              model: str = "tiny", settings: TrainSettings | None = None, seed: int = 0, force: bool = False,
              progress: bool = True) -> TrainManifest:
    """Train ``model`` on the ``text`` of every usable record of the streams folder ``data`` (its
    ``train.jsonl``) into ``out``. Records left out are counted in the manifest's ``counts``."""
    from proceval.ids import file_sha256

    examples, streams, skipped = read_streams(data, text)
    file = Path(data) / STREAMS_FILE if Path(data).is_dir() else Path(data)
    return train_on(examples, out, model=model, kind="sft", data={file.name: file_sha256(str(file))},
                    settings=settings or TrainSettings(), seed=seed, extra={"text": text}, counts=skipped,
                    fit_check=streams, force=force, progress=progress)


def left_out(manifest: TrainManifest) -> dict[str, int]:
    """The counts of records not trained on, by reason."""
    return {k: v for k, v in manifest.counts.items() if k not in ("examples", "tokens")}


__all__ = ["CHAT_TEMPLATE", "TEXTS", "Example", "TrainDataError", "TrainSettings", "encode", "left_out",
           "load_base", "prompt_text", "read_streams", "sos_tokenizer", "train_on", "train_sft"]
