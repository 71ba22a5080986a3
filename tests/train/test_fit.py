"""The shared training loop: a kill mid-training resumes from the last checkpoint to the same weights as an
uninterrupted run; a finished training is not redone; other inputs in the same directory are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from proceval.errors import ProcevalError
from proceval.train.fit import TrainManifest, fit, read_manifest, training_arguments

TEXTS = ["Current State: 3 [1, 2]\nGoal Reached\n", "Exploring Operation: 1 + 2 = 3\n"] * 8


class Killed(Exception):
    pass


def _trainer(out: Path, kill_at: int | None = None):
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainerCallback, set_seed

    from proceval.train.models import model_config
    from proceval.train.tokenizer import search_tokenizer

    tokenizer = search_tokenizer()
    set_seed(0)
    from transformers import LlamaForCausalLM
    model = LlamaForCausalLM(model_config("tiny", tokenizer))
    data = [tokenizer(t) for t in TEXTS]

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
            if kill_at is not None and state.global_step == kill_at:
                raise Killed

    args = training_arguments(out, seed=0, max_steps=6, save_steps=3, batch_size=4, progress=False)
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[Kill()],
                      data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False))
    return trainer, tokenizer


def _manifest(**settings: object) -> TrainManifest:
    return TrainManifest(kind="sft", base_model="tiny", data={"texts": "abc"}, settings=dict(settings), seed=0)


def test_a_killed_training_resumes_to_the_same_weights(tmp_path: Path) -> None:
    trainer, tokenizer = _trainer(tmp_path / "whole")
    whole = fit(trainer, tmp_path / "whole", _manifest(), tokenizer=tokenizer)
    assert whole.finished and whole.steps == 6 and whole.train_loss is not None

    trainer, tokenizer = _trainer(tmp_path / "killed", kill_at=4)
    with pytest.raises(Killed):
        fit(trainer, tmp_path / "killed", _manifest(), tokenizer=tokenizer)
    manifest = read_manifest(tmp_path / "killed")
    assert manifest is not None and not manifest.finished
    assert (tmp_path / "killed" / "checkpoints" / "checkpoint-3").is_dir()
    trainer, tokenizer = _trainer(tmp_path / "killed")
    resumed = fit(trainer, tmp_path / "killed", _manifest(), tokenizer=tokenizer)
    assert resumed.finished and resumed.steps == 6

    from transformers import AutoModelForCausalLM
    a = AutoModelForCausalLM.from_pretrained(tmp_path / "whole").state_dict()
    b = AutoModelForCausalLM.from_pretrained(tmp_path / "killed").state_dict()
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_finished_is_kept_and_other_inputs_are_refused(tmp_path: Path) -> None:
    trainer, tokenizer = _trainer(tmp_path / "m")
    first = fit(trainer, tmp_path / "m", _manifest(epochs=1), tokenizer=tokenizer)
    stamp = (tmp_path / "m" / "model.safetensors").stat().st_mtime_ns
    again = fit(_trainer(tmp_path / "m")[0], tmp_path / "m", _manifest(epochs=1))
    assert again == first and (tmp_path / "m" / "model.safetensors").stat().st_mtime_ns == stamp
    with pytest.raises(ProcevalError, match="settings differ") as caught:
        fit(_trainer(tmp_path / "m")[0], tmp_path / "m", _manifest(epochs=2))
    assert "--force" in (caught.value.hint or "")
    forced = fit(_trainer(tmp_path / "m")[0], tmp_path / "m", _manifest(epochs=2), force=True)
    assert forced.finished and forced.settings == {"epochs": 2}
