"""SAMI training: a ``transformers.Trainer`` whose loss is :func:`~proceval.train.sami.loss.sami_loss`, run through
:func:`proceval.train.fit.fit` (resumable, with a manifest), full fine-tuning or LoRA (peft).

Each training example is one query of a generation directory: its C responses, each under each of the C system
prompts, are C*C sequences (prompt rendered with the model's chat template exactly as the ``hf`` backend renders
it for generation; the response followed by the end-of-sequence token). A LoRA training is merged into the base
weights at the end, so ``OUT`` loads as ``hf/OUT`` like a full fine-tune (the adapter is kept in ``OUT/adapter``).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from proceval.ids import file_sha256
from proceval.train.fit import TrainManifest, fit, training_arguments
from proceval.train.sami.constitutions import SamiError
from proceval.train.sami.generate import DATA, Row, messages, read_data
from proceval.train.sami.loss import mean_token_logprobs, sami_loss

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


def model_folder(spec: str) -> str:
    """The transformers name or folder of an ``hf/`` model spec (``hf/smollm2-135m``: the embedded GGUF)."""
    from proceval.models.base import split_spec
    from proceval.models.hf import embedded_folder
    from proceval.models.llamacpp import EMBEDDED

    provider, name = split_spec(spec) if "/" in spec else ("hf", spec)
    if provider != "hf":
        raise SamiError(f"SAMI trains transformers models; {spec!r} is a {provider}/ model", field="model",
                        hint="give hf/NAME_OR_PATH (hf/smollm2-135m is the embedded model)")
    return str(embedded_folder(name)) if name in EMBEDDED else name


def load_trainable(spec: str) -> tuple[Any, Any]:
    """(model, tokenizer) of an ``hf/`` spec in float32, refusing a tokenizer without a chat template."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = model_folder(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder)
    except (OSError, ValueError) as exc:
        raise SamiError(f"transformers could not load {spec!r}: {str(exc).splitlines()[0]}", field="model") from None
    if not isinstance(getattr(tokenizer, "chat_template", None), str):
        raise SamiError(f"{spec!r} has no chat template: constitutions go in a system message", field="model",
                        hint="give a model whose tokenizer has a chat_template (set one in tokenizer_config.json)")
    return model, tokenizer


def encode_row(tokenizer: Any, row: Row, *, max_response_tokens: int = 128) -> dict[str, Any]:
    """The C*C token sequences of one query (constitution i major, response j minor) and where responses start."""
    from proceval.models.chat import render_chat

    eos = int(tokenizer.eos_token_id)
    prompts = [list(tokenizer(render_chat(tokenizer.chat_template, messages(system, row.query),
                                          bos_token=tokenizer.bos_token or "", eos_token=tokenizer.eos_token or ""),
                              add_special_tokens=False)["input_ids"]) for system in row.systems]
    responses = [list(tokenizer(r, add_special_tokens=False)["input_ids"])[:max_response_tokens] + [eos]  # noqa: RUF005
                 for r in row.responses]
    return {"input_ids": [p + r for p in prompts for r in responses],
            "starts": [len(p) for p in prompts for _ in responses]}


def collate(pad_id: int) -> Any:
    """Pads a batch of encoded rows into flat [B*C*C, L] tensors plus the C they reshape to."""

    def _collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        sequences = [s for example in batch for s in example["input_ids"]]
        starts = [s for example in batch for s in example["starts"]]
        c = round(len(batch[0]["input_ids"]) ** 0.5)
        if any(len(example["input_ids"]) != c * c for example in batch):
            raise SamiError("every query of a batch needs the same number of constitutions", field="data")
        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
        attention = torch.zeros_like(ids)
        response = torch.zeros_like(ids)
        for n, (seq, start) in enumerate(zip(sequences, starts, strict=True)):
            ids[n, : len(seq)] = torch.tensor(seq)
            attention[n, : len(seq)] = 1
            response[n, start : len(seq)] = 1
        return {"input_ids": ids, "attention_mask": attention, "response_mask": response,
                "constitutions": torch.tensor(c)}

    return _collate


def score_batch(model: Any, inputs: dict[str, Any]) -> Any:
    """The [B, C, C] matrix of mean response log-probabilities for a collated batch."""
    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
    means = mean_token_logprobs(logits, inputs["input_ids"], inputs["response_mask"])
    c = int(inputs["constitutions"])
    return means.reshape(-1, c, c)


def sami_trainer_class() -> Any:
    from transformers import Trainer

    class SAMITrainer(Trainer):  # type: ignore[misc]
        """A Trainer whose loss is SAMI's symmetric InfoNCE over each query's C x C matrix."""

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            matrix = score_batch(model, inputs)
            loss = sami_loss(matrix)
            return (loss, {"matrix": matrix}) if return_outputs else loss

    return SAMITrainer


def _merge_lora(out: Path, base: str) -> None:
    """Fold the adapter fit saved in ``out`` into the base weights; move the adapter files to ``out/adapter``."""
    if not (out / "adapter_config.json").is_file():
        return
    from peft import PeftModel

    model, _ = load_trainable(base)
    merged = PeftModel.from_pretrained(model, str(out)).merge_and_unload()
    (out / "adapter").mkdir(exist_ok=True)
    for name in ADAPTER_FILES:
        if (out / name).is_file():
            shutil.move(str(out / name), str(out / "adapter" / name))
    merged.save_pretrained(str(out))


def train_sami(model: str, data: str | Path | list[str | Path], out: str | Path, *, lora: bool = False,
               lora_rank: int = 8, learning_rate: float | None = None, epochs: float = 1.0, max_steps: int = -1,
               batch_size: int = 2, optimizer: str = "adamw_torch", max_response_tokens: int = 128,
               save_steps: int = 50, seed: int = 0, force: bool = False, progress: bool = True,
               threads: int | None = None) -> TrainManifest:
    """Fine-tune ``model`` (an ``hf/`` spec) on one or more generation directories into ``out`` (``threads``:
    torch's CPU threads, process-wide)."""
    import torch
    from transformers import set_seed

    if threads:
        torch.set_num_threads(threads)

    folders = [Path(d) for d in (data if isinstance(data, list) else [data])]
    rows: list[Row] = []
    for folder in folders:
        rows += read_data(folder)[0]
    sizes = {len(r.responses) for r in rows}
    if len(sizes) != 1 or sizes == {1} or any(len(r.systems) != len(r.responses) for r in rows):
        raise SamiError("the data needs the same number (two or more) of constitutions for every query",
                        file=folders[0], hint="generate it with one constitutions file")
    lr = learning_rate if learning_rate is not None else (2e-4 if lora else 1e-5)
    settings = {"lora": lora, "lora_rank": lora_rank if lora else None, "learning_rate": lr, "epochs": epochs,
                "max_steps": max_steps, "batch_size": batch_size, "optimizer": optimizer,
                "max_response_tokens": max_response_tokens}
    manifest = TrainManifest(kind="sami", base_model=model, seed=seed, settings=settings,
                             data={f"{f.name}/{DATA}": file_sha256(str(f / DATA)) for f in folders},
                             counts={"queries": len(rows), "constitutions": sizes.pop()})
    set_seed(seed)
    net, tokenizer = load_trainable(model)
    if lora:
        from peft import LoraConfig, get_peft_model

        net = get_peft_model(net, LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank, lora_dropout=0.0,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    examples = [encode_row(tokenizer, r, max_response_tokens=max_response_tokens) for r in rows]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    args = training_arguments(out, seed=seed, epochs=epochs, batch_size=batch_size, learning_rate=lr,
                              save_steps=save_steps, max_steps=max_steps, progress=progress, optim=optimizer,
                              remove_unused_columns=False)
    trainer = sami_trainer_class()(model=net, args=args, train_dataset=examples, data_collator=collate(int(pad)))
    result = fit(trainer, out, manifest, tokenizer=tokenizer, force=force)
    if lora:
        _merge_lora(Path(out), model)
    return result


__all__ = ["collate", "encode_row", "load_trainable", "model_folder", "sami_trainer_class", "score_batch",
           "train_sami"]
