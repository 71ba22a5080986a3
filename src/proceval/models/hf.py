"""``hf/NAME_OR_PATH``: a Hugging Face transformers causal LM (CPU here, CUDA where present).

The model's chat template is applied (ChatML where it has none). Options of one item are scored from one
forward pass over the prompt: single-token continuations read the last position's logits; longer ones
continue from a copy of the prompt's KV cache.

Constrained generation decodes token by token with the KV cache, masking the logits with llguidance's token
mask (:mod:`proceval.models.guided`, the loop the llama.cpp backend shares); a LogitsProcessor inside
``model.generate()`` could not let a guide end a block without feeding the end token to the model.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from proceval.core.generate import GenerateConfig
from proceval.errors import ModelError
from proceval.models.base import (
    ContinuationScores,
    Generation,
    Message,
    ModelIdentity,
    PromptTooLong,
    ResponseLogprob,
)
from proceval.models.chat import render_chat


def _local_revision(path: Path) -> str:
    """sha256 over the config and weight files of a local model directory."""
    h = hashlib.sha256()
    for file in sorted(path.iterdir()):
        if file.suffix in {".json", ".safetensors", ".bin"} and file.is_file():
            h.update(file.name.encode())
            with file.open("rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
    return "sha256:" + h.hexdigest()


def _check_findable(name: str, revision: str | None) -> None:
    """Fail at once when the model can be neither a local folder, nor in the hub cache, nor downloaded.

    Without this, transformers retries an unreachable hub for about a minute, logging each retry.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return
    if name.startswith((".", "/", "~")) or path.exists():
        raise ModelError(f"no model folder {name!r}", field="model",
                         hint="give a folder with config, weights and tokenizer (or a hub name)")
    from huggingface_hub import constants, try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json", revision=revision)
    except Exception:  # not a valid hub name: let transformers say why
        return
    if isinstance(cached, str):
        return
    if constants.HF_HUB_OFFLINE:
        raise ModelError(f"{name!r} is not a local folder nor in the Hugging Face cache, and HF_HUB_OFFLINE is set",
                         field="model", hint="give a local model folder, or download the model first")
    import httpx

    try:
        httpx.head(constants.ENDPOINT, timeout=3.0)
    except httpx.HTTPError as exc:
        raise ModelError(
            f"{name!r} is not a local folder nor in the Hugging Face cache, and {constants.ENDPOINT} cannot be "
            f"reached ({type(exc).__name__})",
            field="model",
            hint="give a local model folder (hf/PATH), or download the model where the hub is reachable",
        ) from None


def embedded_folder(name: str) -> Path:
    """The embedded GGUF weights (``hf/smollm2-135m``, the file ``local/`` runs) as a transformers folder.

    transformers de-quantizes the GGUF into a float32 model (``gguf_file=``), which takes a minute or two;
    the result is saved once under ``$PROCEVAL_CACHE_DIR/hf/NAME`` so later loads read it directly."""
    from proceval.models.llamacpp import embedded_model_path

    gguf = embedded_model_path(name)
    root = os.environ.get("PROCEVAL_CACHE_DIR")
    folder = (Path(root) if root else Path.home() / ".cache" / "proceval") / "hf" / name
    if (folder / "config.json").is_file():
        return folder
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(tmp)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # the weights are de-quantized float32 already: save them as a plain model
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp)
    if not (folder / "config.json").is_file():  # another process may have finished first
        os.replace(tmp, folder)
    return folder


@contextmanager
def _torch_threads(torch: Any, threads: int | None) -> Iterator[None]:
    """torch's (process-wide) intra-op threads set to ``threads`` for the block, then restored."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class HFModel:
    provider = "hf"
    max_concurrency = 1

    def __init__(
        self,
        name: str,
        *,
        device: str | None = None,
        dtype: str | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        max_context: int | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.spec = f"hf/{name}"
        self.name = name
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise ModelError("transformers and torch are needed for hf/ models",
                             hint="pip install torch transformers") from None
        self._torch = torch
        from proceval.models.llamacpp import EMBEDDED

        if name in EMBEDDED:
            name = str(embedded_folder(name))
        _check_findable(name, revision)
        if n_threads:
            torch.set_num_threads(int(n_threads))  # process-wide: torch has no per-model thread pool
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = getattr(torch, dtype) if dtype else None
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(name, revision=revision,
                                                           trust_remote_code=trust_remote_code)
            self.model = AutoModelForCausalLM.from_pretrained(
                name, revision=revision, trust_remote_code=trust_remote_code, dtype=torch_dtype
            ).to(self.device)  # type: ignore[arg-type]
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"transformers could not load {name!r}: {str(exc).splitlines()[0]}",
                field="model",
                hint="give a local directory with config, weights and tokenizer, or a hub name reachable from here",
            ) from None
        self.model.eval()
        # A model of a few million parameters decodes one sequence fastest on one thread: its matrices are too
        # small to split, and waiting for a second thread costs more than it saves (a 1M-parameter model: 177
        # tokens/s on one thread, 19 on two, on a busy 2-core machine). Set only while generating.
        small = sum(p.numel() for p in self.model.parameters()) < 20_000_000
        self._decode_threads = None if n_threads or self.device != "cpu" or not small else 1
        local = Path(name)
        self._revision = (
            _local_revision(local) if local.is_dir()
            else revision or getattr(self.model.config, "_commit_hash", None)
        )
        self._context = int(max_context or getattr(self.model.config, "max_position_embeddings", 0) or 2048)
        # the keyword a forward pass takes (and returns) the key/value cache by: ``cache`` in newer transformers,
        # where ``past_key_values`` is deprecated (to be removed in 5.40); ``past_key_values`` before
        self._cache_keyword = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        self._lock = threading.Lock()
        self._lltokenizer: Any = None  # llguidance's view of the vocabulary, built on first constrained call

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(
            provider="hf",
            name=self.name,
            revision=self._revision,
            parameters={"dtype": str(self.model.dtype).replace("torch.", ""), "context": self._context},
        )

    @property
    def supports_logprobs(self) -> bool:
        return True

    @property
    def context_length(self) -> int | None:
        return self._context

    def _prompt_ids(self, messages: list[Message], assistant_prefix: str = "") -> list[int]:
        template = getattr(self.tokenizer, "chat_template", None)
        text = render_chat(
            template if isinstance(template, str) else None,
            messages,
            bos_token=self.tokenizer.bos_token or "",
            eos_token=self.tokenizer.eos_token or "",
        ) + assistant_prefix
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_tokens(self, messages: list[Message], assistant_prefix: str = "") -> int:
        return len(self._prompt_ids(messages, assistant_prefix))

    def _check_fits(self, n: int) -> None:
        if n > self._context:
            raise PromptTooLong(f"the prompt needs {n} tokens but the model's context holds {self._context}",
                                field="context", hint="shorten the prompt (fewer few-shot examples)")

    def score(
        self, messages: list[Message], continuations: list[str], *, assistant_prefix: str = ""
    ) -> ContinuationScores:
        torch = self._torch
        with self._lock, torch.inference_mode():
            prompt = self._prompt_ids(messages, assistant_prefix)
            conts = [list(self.tokenizer(c, add_special_tokens=False)["input_ids"]) for c in continuations]
            if any(not c for c in conts):
                raise ModelError("a continuation has no tokens", field="continuations")
            self._check_fits(len(prompt) + max(len(c) for c in conts))
            ids = torch.tensor([prompt], device=self.device)
            out = self.model(ids, use_cache=True)
            first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
            logprobs = [float(first[c[0]]) for c in conts]
            for index, toks in enumerate(conts):
                if len(toks) > 1:
                    past = copy.deepcopy(getattr(out, self._cache_keyword))
                    more = self.model(torch.tensor([toks[:-1]], device=self.device), use_cache=True,
                                      **{self._cache_keyword: past})
                    lp = torch.log_softmax(more.logits[0].float(), dim=-1)
                    logprobs[index] += float(sum(lp[j, toks[j + 1]] for j in range(len(toks) - 1)))
            return ContinuationScores(logprobs=logprobs, token_counts=[len(c) for c in conts],
                                      prompt_tokens=len(prompt), prompt_length=len(prompt))

    def generate(self, messages: list[Message], config: GenerateConfig | None = None) -> Generation:
        config = config or GenerateConfig()
        torch = self._torch
        with self._lock, torch.inference_mode(), _torch_threads(torch, self._decode_threads):
            prompt = self._prompt_ids(messages)
            self._check_fits(len(prompt) + 1)
            max_tokens = max(1, min(config.max_tokens, self._context - len(prompt)))
            if config.constraint is not None:
                return self._generate_constrained(prompt, config, max_tokens)
            if config.seed is not None:
                torch.manual_seed(config.seed)
            kwargs: dict[str, Any] = {"do_sample": config.temperature > 0}
            if config.temperature > 0:
                kwargs["temperature"] = config.temperature
            pad = self.tokenizer.pad_token_id
            if pad is None:
                pad = self.tokenizer.eos_token_id
            output = self.model.generate(
                torch.tensor([prompt], device=self.device),
                attention_mask=torch.ones(1, len(prompt), dtype=torch.long, device=self.device),
                max_new_tokens=max_tokens,
                pad_token_id=pad,
                **kwargs,
            )
            new = output[0, len(prompt):].tolist()
            text = str(self.tokenizer.decode(new, skip_special_tokens=True))
            finish = "length" if len(new) >= config.max_tokens else "stop"
            for s in config.stop or ():
                if s and s in text:
                    text = text[: text.index(s)]
                    finish = "stop"
            return Generation(text=text, prompt_tokens=len(prompt), completion_tokens=len(new),
                              finish_reason=finish, prompt_evaluated=len(prompt))

    def _generate_constrained(self, prompt: list[int], config: GenerateConfig, max_tokens: int) -> Generation:
        from proceval.models.guided import ConstraintSession, decode

        assert config.constraint is not None
        torch = self._torch
        tokenizer = self._guidance_tokenizer()
        vocab = int(self.model.config.vocab_size)
        session = ConstraintSession(config.constraint, tokenizer, vocab)
        state: dict[str, Any] = {"past": None, "fed": 0}
        sequence = list(prompt)

        def next_logits(generated: list[int]) -> Any:
            sequence[len(prompt):] = generated
            new = sequence[state["fed"]:]
            out = self.model(torch.tensor([new], device=self.device), use_cache=True, **{self._cache_keyword: state["past"]})
            state.update(past=getattr(out, self._cache_keyword), fed=len(sequence))
            return torch.log_softmax(out.logits[0, -1].float(), dim=-1).cpu().numpy()

        result = decode(next_logits, config, session, [int(self.tokenizer.eos_token_id)],
                        lambda t: bytes(tokenizer.decode_bytes([t])), max_tokens)
        return Generation(text=result.text, prompt_tokens=len(prompt), completion_tokens=len(result.tokens),
                          finish_reason=result.finish_reason, prompt_evaluated=len(prompt),
                          satisfied=result.satisfied)

    def _guidance_tokenizer(self) -> Any:
        if self._lltokenizer is None:
            from proceval.models.guided import _llguidance

            _llguidance()
            import llguidance.hf

            self._lltokenizer = llguidance.hf.from_tokenizer(
                self.tokenizer, n_vocab=int(self.model.config.vocab_size))  # type: ignore[arg-type]
        return self._lltokenizer

    def response_logprobs(self, messages: list[Message], response: str, *, end: bool = True) -> ResponseLogprob:
        torch = self._torch
        with self._lock, torch.inference_mode():
            prompt = self._prompt_ids(messages)
            tokens = list(self.tokenizer(response, add_special_tokens=False)["input_ids"])
            if end:
                tokens.append(int(self.tokenizer.eos_token_id))
            if not tokens:
                raise ModelError("the response has no tokens to score", field="response")
            self._check_fits(len(prompt) + len(tokens))
            logits = self.model(torch.tensor([prompt + tokens], device=self.device)).logits[0].float()
            logprobs = torch.log_softmax(logits[len(prompt) - 1 : -1], dim=-1)
            picked = logprobs[torch.arange(len(tokens)), torch.tensor(tokens, device=logprobs.device)]
            total = float(picked.sum())
            return ResponseLogprob(sum=total, mean=total / len(tokens), n_tokens=len(tokens))


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
