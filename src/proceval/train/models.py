"""Named model presets: small decoder-only transformers (Hugging Face Llama architecture) trained from scratch,
so a checkpoint loads with ``transformers`` and serves with vLLM.

- ``tiny``: about 1M parameters, trainable on 2 CPU cores;
- ``small``: about 6M;
- ``paper``: the Stream of Search paper's shape (16 layers, d = 1024, context 4096; GPT-Neo there, ~250M with its
  vocabulary: Llama blocks give about 270M here).
"""

from __future__ import annotations

from typing import Any

from proceval.errors import ProcevalError

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512,
             "max_position_embeddings": 1024},
    "small": {"hidden_size": 256, "num_hidden_layers": 6, "num_attention_heads": 8, "intermediate_size": 1024,
              "max_position_embeddings": 2048},
    "paper": {"hidden_size": 1024, "num_hidden_layers": 16, "num_attention_heads": 16, "intermediate_size": 4096,
              "max_position_embeddings": 4096},
}


def model_config(preset: str, tokenizer: Any) -> Any:
    """The ``LlamaConfig`` of ``preset`` for ``tokenizer``'s vocabulary and special tokens."""
    from transformers import LlamaConfig

    if preset not in PRESETS:
        raise ProcevalError(f"unknown model preset {preset!r}", field="model",
                            hint=f"choose one of {', '.join(PRESETS)}")
    return LlamaConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                       tie_word_embeddings=True, **PRESETS[preset])
