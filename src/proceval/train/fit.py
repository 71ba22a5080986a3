"""The one training loop every trainer of proceval uses (SFT, STaR, SAMI): a Hugging Face ``Trainer`` run into
a directory, resumable after a kill, with a manifest of what it was trained on.

Layout of ``out``::

    checkpoints/checkpoint-N/   the Trainer's checkpoints (the last two kept); a rerun resumes from the newest
    model.safetensors, config.json, tokenizer files   the final model, loadable with ``hf/OUT``
    train.json                  the manifest: kind, base model, data hashes, settings, seed, steps, loss

    args = training_arguments(out, seed=0, epochs=2, batch_size=16, learning_rate=1e-3)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data, data_collator=collate)
    manifest = fit(trainer, out, TrainManifest(kind="sft", base_model="tiny", data={"streams.jsonl": sha},
                                               settings={...}, seed=0), tokenizer=tokenizer)

A rerun with the same manifest inputs (data hashes, settings, seed) resumes from the last checkpoint, or does
nothing when training finished; different inputs are refused (the checkpoints would mix two trainings) unless
``force`` clears the directory first.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from proceval import __version__
from proceval.errors import ProcevalError

MANIFEST = "train.json"
CHECKPOINTS = "checkpoints"


class TrainManifest(BaseModel):
    """What a trained model was made from (``OUT/train.json``)."""

    kind: str = Field(description="sft, star, sami, ...")
    base_model: str = Field(description="a preset name (trained from scratch) or the model it was fine-tuned from")
    data: dict[str, str] = Field(default_factory=dict, description="training file → sha256")
    settings: dict[str, Any] = Field(default_factory=dict, description="every setting that changes the result")
    seed: int = 0
    proceval_version: str = __version__
    finished: bool = False
    steps: int = 0
    train_loss: float | None = None
    counts: dict[str, int] = Field(default_factory=dict, description="e.g. examples used, malformed skipped")

    def inputs(self) -> dict[str, Any]:
        """The fields that decide the result: a rerun with other inputs is another training."""
        return {"kind": self.kind, "base_model": self.base_model, "data": self.data, "settings": self.settings,
                "seed": self.seed}


def read_manifest(out: str | os.PathLike[str]) -> TrainManifest | None:
    path = Path(out) / MANIFEST
    if not path.is_file():
        return None
    return TrainManifest.model_validate_json(path.read_text(encoding="utf-8"))


def _write(out: Path, manifest: TrainManifest) -> None:
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / MANIFEST)


def training_arguments(out: str | os.PathLike[str], *, seed: int, epochs: float = 1.0, batch_size: int = 16,
                       learning_rate: float = 1e-3, save_steps: int = 200, max_steps: int = -1,
                       gradient_accumulation_steps: int = 1, warmup_steps: int = 0,
                       progress: bool = True, recompute_activations: bool = False, **extra: Any) -> Any:
    """``transformers.TrainingArguments`` with proceval's defaults: checkpoints under ``OUT/checkpoints`` (the
    last two kept, for resuming), seeded data order, no external loggers. ``recompute_activations``: each layer's
    activations are recomputed in the backward pass instead of kept (activation or gradient checkpointing)."""
    import torch
    from transformers import TrainingArguments

    if recompute_activations:  # transformers 5 renamed the argument (the old name warns, and goes in 6)
        fields = TrainingArguments.__dataclass_fields__
        extra["activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"] = True
    return TrainingArguments(
        output_dir=str(Path(out) / CHECKPOINTS), seed=seed, data_seed=seed, num_train_epochs=epochs,
        max_steps=max_steps, per_device_train_batch_size=batch_size, learning_rate=learning_rate,
        gradient_accumulation_steps=gradient_accumulation_steps, warmup_steps=warmup_steps,
        save_strategy="steps", save_steps=save_steps, save_total_limit=2, logging_steps=max(1, save_steps // 4),
        report_to=[], disable_tqdm=not progress, use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0, **extra)


def fit(trainer: Any, out: str | os.PathLike[str], manifest: TrainManifest, *, tokenizer: Any = None,
        force: bool = False) -> TrainManifest:
    """Train ``trainer`` into ``out`` (resuming from its newest checkpoint), save the final model (and
    ``tokenizer``) there, and write the manifest. Returns the manifest as written."""
    from transformers.trainer_utils import get_last_checkpoint

    out = Path(out)
    if force and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    previous = read_manifest(out)
    if previous is not None:
        if previous.inputs() != manifest.inputs():
            changed = sorted(k for k, v in manifest.inputs().items() if previous.inputs().get(k) != v)
            raise ProcevalError(f"{out} holds a training with other inputs ({', '.join(changed)} differ)",
                                file=out / MANIFEST, hint="choose another --out, or pass --force to train afresh")
        if previous.finished:
            return previous
    _write(out, manifest)  # unfinished: records the inputs a resumed run must match
    checkpoints = out / CHECKPOINTS
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    result = trainer.train(resume_from_checkpoint=last)
    trainer.save_model(str(out))
    if tokenizer is not None:
        tokenizer.save_pretrained(str(out))
    done = manifest.model_copy(update={"finished": True, "steps": int(result.global_step),
                                       "train_loss": float(result.training_loss)})
    _write(out, done)
    return done


def describe(manifest: TrainManifest) -> str:
    """One line for logs: kind, base, steps, loss."""
    loss = "–" if manifest.train_loss is None else f"{manifest.train_loss:.4f}"
    return f"{manifest.kind} from {manifest.base_model}: {manifest.steps} steps, loss {loss}"


__all__ = ["CHECKPOINTS", "MANIFEST", "TrainManifest", "describe", "fit", "read_manifest", "training_arguments"]
