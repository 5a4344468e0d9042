"""GGUF models in-process on the CPU through llama-cpp-python (the embedded default backend).

Two things matter for this project and are done by hand on llama.cpp's low-level API rather than
through ``Llama.__call__``:

* **Scores come from raw logits.** ``score`` takes the log-softmax of the logits at the position
  *before* each continuation token. llama-cpp-python's ``echo=True`` log-probs are attached to the
  wrong position (an upstream off-by-one), so they are never used here.
* **Shared-prefix reuse.** The model keeps one KV sequence and remembers which tokens it holds.
  Every evaluation first drops the KV entries after the longest common prefix with what it needs
  and decodes only the rest. Requests are ordered so that neighbours share long prefixes: scoring
  1,000 canaries behind one 600-token context costs one context prefill plus, per canary, only
  the tokens after those it shares with its neighbour; repeated samples of one prompt prefill
  it once.
* **Samples of one prompt decode together** (model option ``batch``, :mod:`.llamacpp_batch`);
  next-token distributions keep each recent prompt in a KV slot (:mod:`.llamacpp_slots`).

Instances are not meant to be shared between threads; a lock serialises calls for safety.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sociallearn.errors import UserError
from sociallearn.models.base import (
    Completion,
    GenerationParams,
    Score,
    ScoreRequest,
    TokenDistribution,
    common_prefix,
    derive_seed,
    sample_indices,
)
from sociallearn.models.embedded import resolve_model_path
from sociallearn.models.file_digest import file_digest
from sociallearn.models.gguf_weights import reencoded_gguf
from sociallearn.models.llamacpp_batch import Lanes, lane_context
from sociallearn.models.llamacpp_load import load_llama
from sociallearn.models.llamacpp_sampling import Logits, Samplers, SampleState
from sociallearn.models.llamacpp_slots import PromptSlots

_OPTIONS = (
    "n_ctx",
    "n_threads",
    "seed",
    "prefix_reuse",
    "verbose",
    "n_batch",
    "add_bos",
    "weights",
    "batch",
    "extra_buffers",
)
# Samples decode one at a time unless the model option ``batch`` asks for lanes. Lanes give
# bit-identical samples with Q4_1 weights but not f32/f16 (kernels round differently with the
# tokens per decode), and gain little at 2-4 samples per call with Q4_1 (docs/design.md): the
# reproducible path is the default; ``batch: 8`` with ``weights: f32`` is the fast setting.
DEFAULT_BATCH = 1
# Where a token's logits depend on how many tokens share its decode call, exact evaluations
# (scores, prompts) pad each call to a multiple of this many tokens and drop the padding from the
# KV afterwards. On x86, K-quant weights (Q4_K_M files) are repacked and llama.cpp multiplies a
# batch's rows in groups, the remainder with a kernel that rounds differently, so a score moved
# with what the KV cache held before (Qwen2.5-Coder-0.5B Q4_K_M: 0.1 nats; padding to 4 still
# left 4-token calls off, to 8 none). A probe at load decides (``_remainder_rounds_differently``).
DECODE_MULTIPLE = 8


@dataclass(frozen=True)
class _Tokenized:
    context: tuple[int, ...]
    continuation: tuple[int, ...]


def default_threads() -> int:
    """Half the cores, at least one.

    llama.cpp's worker threads spin while they wait for each other; when another process takes
    a core, all-core settings collapse (measured on 2 cores: 1.3 tok/s with 2 threads against
    44 tok/s with 1 while a second job ran). Half the cores loses little when the machine is idle
    and degrades gracefully when it is not. Override with the model option ``n_threads``.
    """
    return max(1, (os.cpu_count() or 2) // 2)


def decode_failure(code: int, n: int) -> str:
    """The error of a failed exact decode: llama.cpp's code, or the padding that stayed."""
    if code:
        return f"llama_decode failed with code {code} ({n} tokens)"
    return f"could not drop the padding of a {n}-token decode from the KV cache"


class LlamaCppModel:
    """A GGUF model run in-process by llama.cpp, implementing ``LanguageModel``.

    Args:
        model_path: the .gguf file.
        model_id: identifier used in cache keys and results.
        n_ctx: context window in tokens (prompt plus generated or scored tokens).
        n_threads: CPU threads; defaults to half the cores (see :func:`default_threads`).
        seed: added to every ``GenerationParams.seed``, so one option shifts all sampling.
        prefix_reuse: reuse the KV state of shared prefixes (off only to measure the naive cost).
        verbose: let llama.cpp print its logs.
        n_batch: tokens per decode call during prefill.
        add_bos: force the model's "add BOS token" flag on or off (``None`` keeps the file's
            setting); it changes every score, so it is part of the model id.
        weights: run a copy of the file re-encoded as ``"f32"``, ``"f16"``, ``"bf16"`` or
            ``"q8_0"`` (made once, :mod:`sociallearn.models.gguf_weights`); part of the id.
        batch: samples of one prompt decoded together per ``llama_decode`` (``1``: the
            sequential path; :mod:`.llamacpp_batch`). Each sequence gets its own ``n_ctx``
            tokens of KV cache, so the cache takes ``batch + 1`` times the memory.
        extra_buffers: llama.cpp's extra CPU buffer types (AMX, repacked K-quants); ``None``: on
            unless the CPU advertises AMX (:mod:`.llamacpp_load`). Set, part of the id.

    ``content_digest`` is the file's content (:mod:`.file_digest`): cached answers are keyed by
    it too, so a file replaced at the same path is never served the old file's answers.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        model_id: str | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        seed: int = 0,
        prefix_reuse: bool = True,
        verbose: bool = False,
        n_batch: int = 512,
        add_bos: bool | None = None,
        weights: str | None = None,
        batch: int = DEFAULT_BATCH,
        extra_buffers: bool | None = None,
    ) -> None:
        import llama_cpp

        path = Path(model_path)
        if not path.is_file():
            raise UserError(f"model file not found: {model_path} (expected a .gguf file)")
        if n_ctx < 8:
            raise UserError(f"option n_ctx: expected an integer >= 8, got {n_ctx}")
        self.content_digest = file_digest(path)
        max_batch = int(llama_cpp.llama_max_parallel_sequences()) - 1
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= max_batch:
            raise UserError(
                f"option batch: expected an integer from 1 to {max_batch}, got {batch!r}"
            )
        if weights is not None:
            path = reencoded_gguf(path, weights)
        threads = n_threads or default_threads()
        self._lib: Any = llama_cpp
        # With lanes the model gets its own multi-stream context (below); Llama's then only
        # holds the model and tokenizer, so it is made as small as llama.cpp allows.
        holder_ctx = n_ctx if batch == 1 else 256
        self._llm: Any = load_llama(
            llama_cpp,
            path,
            n_ctx=holder_ctx,
            n_batch=min(n_batch, holder_ctx),
            threads=threads,
            verbose=verbose,
            add_bos=add_bos,
            extra_buffers=extra_buffers,
        )
        base_id = model_id or f"llamacpp:{path.name}"
        suffixes = (
            ([f"bos={str(add_bos).lower()}"] if add_bos is not None else [])
            + ([f"weights={weights}"] if weights is not None else [])
            + ([f"seed={seed}"] if seed else [])
            + ([f"extra_buffers={str(extra_buffers).lower()}"] if extra_buffers is not None else [])
        )
        self._model_id = "@".join([base_id, *suffixes])
        self._seed = seed
        self.prefix_reuse = prefix_reuse
        self._own_ctx: Any = None
        if batch == 1:
            self._ctx = self._llm.ctx
            self._n_ctx = int(self._llm.n_ctx())
            self._n_batch = int(self._llm.n_batch)
        else:
            self._own_ctx = self._ctx = lane_context(
                llama_cpp, self._llm, n_ctx, min(n_batch, n_ctx), batch
            )
            self._n_ctx = int(self._lib.llama_n_ctx_seq(self._ctx))
            self._n_batch = int(self._lib.llama_n_batch(self._ctx))
        self._n_ubatch = int(self._lib.llama_n_ubatch(self._ctx))
        self._n_vocab = int(self._llm.n_vocab())
        self._vocab = self._lib.llama_model_get_vocab(self._llm.model)
        self._memory = self._lib.llama_get_memory(self._ctx)
        self._batch = self._lib.llama_batch_init(self._n_batch, 0, 1)
        self._pad_to = 1  # until the probe below
        self._chunk = self._n_batch
        self._kv: list[int] = []  # tokens whose keys/values sequence 0 currently holds
        self._exact_kv = 0  # how many leading ones padded (exact) decodes made
        self._samplers = Samplers(self._lib, self._vocab, self._n_vocab)
        self._lock = threading.RLock()
        self.decoded_tokens = 0  # tokens sent through llama_decode (for tests and benchmarks)
        self.batch = batch
        self._lanes = Lanes(self, batch) if batch > 1 else None
        self._slots: PromptSlots | None = None  # next-token KV slots, made on first use
        # The probe decodes 16 tokens in one call; padded chunks must be multiples themselves.
        if min(self._n_batch, self._n_ctx) >= 16 and self._remainder_rounds_differently():
            self._pad_to = DECODE_MULTIPLE
            self._chunk = self._n_batch - self._n_batch % DECODE_MULTIPLE

    def _remainder_rounds_differently(self) -> bool:
        """Whether the 16th of 16 tokens gets other logits when they are decoded as 5 + 11 than
        as 16 in one call (a remainder kernel): then exact decodes need padding."""
        probe = self._tokenize("The quick brown fox jumps over the lazy dog. " * 3)[:16]
        self._forget()
        [whole] = self._decode(probe, 0, 15, pad=False)
        self._forget()
        _ = [*self._decode(probe[:5], 0, 15, pad=False)]  # no logits wanted; decodes
        [split] = self._decode(probe[5:], 5, 15, pad=False)
        self._forget()
        return not np.array_equal(whole, split)

    @classmethod
    def from_spec(cls, name: str, **options: Any) -> LlamaCppModel:
        """Build from a spec name: ``""``/``"smollm2"`` (embedded) or a path to a .gguf file."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise UserError(
                f"unknown llamacpp option(s) {', '.join(unknown)}; "
                f"expected any of {', '.join(_OPTIONS)}"
            )
        path, model_id = resolve_model_path(name)
        return cls(path, model_id=model_id, **options)

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    def count_tokens(self, text: str) -> int:
        return len(self._tokenize(text))

    def close(self) -> None:
        """Free llama.cpp memory now rather than at garbage collection."""
        with self._lock:
            self._samplers.close()
            if self._batch is not None:
                self._lib.llama_batch_free(self._batch)
                self._batch = None
            if self._slots is not None:
                self._slots.close()
            if self._own_ctx is not None:
                self._lib.llama_free(self._own_ctx)
                self._own_ctx = None
            self._llm.close()

    # ----------------------------------------------------------------- tokens and KV state

    def _tokenize(self, text: str, *, first: bool = True) -> list[int]:
        # add_bos only adds BOS when the model's vocabulary asks for it; ``first=False`` is for
        # text tokenized on its own that continues an earlier piece.
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=first, special=False))

    def _prompt_tokens(self, text: str, what: str) -> list[int]:
        tokens = self._tokenize(text)
        if not tokens:
            # An empty prompt has no position to predict the first token from; start from BOS.
            bos = int(self._llm.token_bos())
            if bos < 0:
                raise UserError(f"{what}: the text is empty and the model has no BOS token")
            tokens = [bos]
        return tokens

    def _split(self, request: ScoreRequest) -> _Tokenized:
        context = self._prompt_tokens(request.context, "score context")
        if not request.continuation:
            return _Tokenized(tuple(context), ())
        joint = self._tokenize(request.context + request.continuation)
        if request.context and joint[: len(context)] == context and len(joint) > len(context):
            continuation = joint[len(context) :]
        else:
            # The BPE merged across the boundary: score the continuation as its own tokens.
            continuation = self._tokenize(request.continuation, first=False)
        total = len(context) + len(continuation)
        if total > self._n_ctx:
            raise UserError(
                f"context overflow: context {len(context)} + continuation {len(continuation)} "
                f"tokens = {total} > n_ctx {self._n_ctx}; raise the model option n_ctx"
            )
        return _Tokenized(tuple(context), tuple(continuation))

    def _forget(self) -> None:
        self._lib.llama_memory_clear(self._memory, True)
        self._kv = []
        self._exact_kv = 0
        if self._lanes is not None:
            self._lanes.reset()

    def _eval(
        self, tokens: Sequence[int], logits_from: int, *, exact: bool = True, fresh: bool = True
    ) -> list[Logits]:
        """Make the KV hold exactly ``tokens``; return logits rows for positions >= logits_from.

        Only the part after the longest common prefix with the current KV state is decoded (all
        of it when prefix reuse is off). Positions whose logits are wanted are always decoded.
        An exact evaluation pads every decode to at least two tokens (a one-token call rounds
        differently), and to a multiple of ``DECODE_MULTIPLE`` where the probe at load found it
        needed, and reuses only keys/values that exact evaluations made, so its logits are the
        same whatever the cache held before. ``exact=False`` (sampling steps) decodes unpadded,
        one token per step: padding would cost about 30% of decode speed there.
        ``fresh=False`` marks a continuation of the previous call (the next sampling step): the
        naive mode (no prefix reuse) re-evaluates each request from scratch, not each token.
        """
        if not 0 <= logits_from < len(tokens):
            raise ValueError("logits_from must index a token")
        if not self.prefix_reuse and fresh:
            self._forget()
        start = min(common_prefix(self._kv, tokens), logits_from)
        if exact:
            start = self._exact_start(min(start, self._exact_kv), len(tokens))
        if start < len(self._kv) and not self._lib.llama_memory_seq_rm(self._memory, 0, start, -1):
            self._forget()
            start = 0
        self._kv = self._kv[:start]
        self._exact_kv = min(self._exact_kv, start)
        rows: list[Logits] = []
        for chunk_start in range(start, len(tokens), self._chunk):
            chunk = tokens[chunk_start : chunk_start + self._chunk]
            rows.extend(self._decode(chunk, chunk_start, logits_from, pad=exact))
            self._kv.extend(chunk)
        if exact:
            self._exact_kv = len(self._kv)
        return rows

    def _exact_start(self, start: int, end: int) -> int:
        """Where exact decodes of positions ``start``..``end`` begin: at ``start``, or up to 7
        cached tokens before it (decoded again) where padding after the last call would not fit
        in the window, so that the calls need none there."""
        need = self._pad_for((end - start) % self._chunk or self._chunk)
        return start if end + need <= self._n_ctx else max(start - need, 0)

    def _pad_for(self, n: int) -> int:
        """Padding an exact decode of ``n`` tokens needs: at least two tokens per call, as
        one-token calls round differently on every build measured (SmolLM2: ~2e-3 nats), and a
        multiple of ``_pad_to``."""
        return max((-n) % self._pad_to, 2 - n)

    def _padding(self, n: int, pos0: int) -> int:
        """Tokens to append to an exact decode of ``n`` tokens at ``pos0`` (dropped after it),
        :meth:`_pad_for`; none past the window (``_exact_start`` avoids needing them there)."""
        extra = self._pad_for(n)
        return extra if pos0 + n + extra <= self._n_ctx else 0

    def _decode(
        self, chunk: Sequence[int], pos0: int, logits_from: int, *, pad: bool
    ) -> Iterator[Logits]:
        n = len(chunk)
        extra = self._padding(n, pos0) if pad else 0
        batch = self._batch
        n_out = 0
        for i, token in enumerate([*chunk, *[chunk[-1]] * extra]):
            batch.token[i] = token
            batch.pos[i] = pos0 + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            want = i < n and pos0 + i >= logits_from
            batch.logits[i] = want
            n_out += want
        batch.n_tokens = n + extra
        code = self._lib.llama_decode(self._ctx, batch)
        if code != 0 or (
            extra and not self._lib.llama_memory_seq_rm(self._memory, 0, pos0 + n, -1)
        ):
            self._forget()
            raise RuntimeError(decode_failure(code, n))
        self.decoded_tokens += n + extra
        if n_out:
            # Outputs are stored contiguously, one row per flagged token, in batch order.
            flat = np.ctypeslib.as_array(
                self._lib.llama_get_logits(self._ctx), shape=(n_out * self._n_vocab,)
            )
            yield from flat.reshape(n_out, self._n_vocab).copy()

    # ----------------------------------------------------------------------------- scoring

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        """Log-probs of each continuation given its context (:mod:`.llamacpp_scoring`)."""
        from sociallearn.models.llamacpp_scoring import score

        with self._lock:
            return score(self, requests)

    def next_token_logprobs(
        self, prompts: Sequence[str], top: int | None = None
    ) -> list[TokenDistribution]:
        """Full next-token distributions from raw logits (:mod:`.llamacpp_nexttoken`)."""
        from sociallearn.models.llamacpp_nexttoken import next_token_logprobs

        return next_token_logprobs(self, prompts, top)

    # -------------------------------------------------------------------------- generation

    def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[Completion]:
        """Sample one completion per prompt.

        The j-th repeat of a prompt in the batch uses the seed ``derive_seed(seed, j)``. The
        reported ``logprob_sum`` is under the model's own distribution (raw logits, temperature
        1, before top-p and grammar masking), so perplexities compare across sampling settings.
        It comes from one-token decode steps, which can differ from ``score`` of the same text
        by about 1e-3 per token (llama.cpp kernel rounding).
        """
        if params.max_tokens < 0:
            raise UserError(f"max_tokens: expected an integer >= 0, got {params.max_tokens}")
        with self._lock:
            indices = sample_indices(prompts)
            # Visit prompts in sorted order so repeats and shared prefixes sit next to each other.
            order = sorted(range(len(prompts)), key=lambda i: (prompts[i], indices[i]))
            out: dict[int, Completion] = {}
            for i in order:
                if i in out:
                    continue
                group = [j for j in order if prompts[j] == prompts[i]]
                if self._lanes is not None and self.prefix_reuse and len(group) > 1:
                    # Samples of one prompt: one decode per step for all of them.
                    out.update(self._generate_lanes(prompts, params, indices, group, self._lanes))
                    continue
                seed = derive_seed(params.seed + self._seed, indices[i])
                out[i] = self._generate_one(prompts[i], params, seed)
            return [out[i] for i in range(len(prompts))]

    def _sample_state(self, prompt: str, params: GenerationParams, seed: int) -> SampleState:
        tokens = self._prompt_tokens(prompt, "generate prompt")
        if len(tokens) >= self._n_ctx:
            raise UserError(
                f"context overflow: prompt of {len(tokens)} tokens leaves no room in "
                f"n_ctx {self._n_ctx}; raise the model option n_ctx"
            )
        return SampleState(
            prompt=tokens,
            sampler=self._samplers.make(params, seed),
            max_tokens=params.max_tokens,
            stop=params.stop,
            n_ctx=self._n_ctx,
            constrained=params.grammar is not None,
        )

    def _generate_lanes(
        self,
        prompts: Sequence[str],
        params: GenerationParams,
        indices: Sequence[int],
        order: Sequence[int],
        lanes: Lanes,
    ) -> dict[int, Completion]:
        """Samples of one prompt, ``batch`` per decode; same seeds and samplers as one by one."""
        states: dict[int, SampleState] = {}
        try:
            for i in order:
                seed = derive_seed(params.seed + self._seed, indices[i])
                states[i] = self._sample_state(prompts[i], params, seed)
            lanes.generate([states[i] for i in order])
        finally:
            for state in states.values():
                self._lib.llama_sampler_free(state.sampler)
        return {i: state.completion() for i, state in states.items()}

    def _generate_one(self, prompt: str, params: GenerationParams, seed: int) -> Completion:
        state = self._sample_state(prompt, params, seed)
        tokens = state.prompt
        try:
            [row] = self._eval(tokens, logits_from=len(tokens) - 1)
            while state.can_sample():
                # Samples from the logits of the last decode and advances the grammar state.
                token = int(self._lib.llama_sampler_sample(state.sampler, self._ctx, -1))
                eog = bool(self._lib.llama_vocab_is_eog(self._vocab, token))
                state.take(token, row, eog, lambda g: self._detokenize(g, tokens))
                if state.can_sample():
                    [row] = self._eval(
                        tokens + state.generated,
                        logits_from=len(tokens) + len(state.generated) - 1,
                        exact=False,
                        fresh=False,
                    )
        finally:
            self._lib.llama_sampler_free(state.sampler)
        return state.completion()

    def _detokenize(self, generated: list[int], prompt: list[int]) -> str:
        raw = self._llm.detokenize(generated, prev_tokens=prompt)
        # A partial multi-byte character at the end is completed by the next token.
        return bytes(raw).decode("utf-8", errors="ignore")
