"""Several prompts kept in llama.cpp's KV memory at once, for next-token distributions.

Private generation asks every teacher for its next-token distribution after *its own* few-shot
prompt and the public partial example, once per released token. With the model's single KV
sequence, each teacher's prompt evicted the previous one, so every token cost a full prefill per
teacher (about 2.4 s a token with 3 teachers on this machine). Here each prompt keeps a *slot* (a
KV sequence of its own) while the prompts take turns: a teacher's next request extends its slot
by the one or two tokens released since, so a token costs a few decoded tokens per teacher.

The slots live in a separate llama.cpp context on the same model weights, made on first use, with
one KV stream per slot (``kv_unified = false``: with the unified cache, cells of other sequences
leaked into attention, see :mod:`.llamacpp_batch`). Each ``llama_decode`` holds one slot's tokens
only (mixing sequences in one decode moved log-probs, also there), and each decode is padded as
the model's exact evaluations are (at least two tokens; a multiple of 8 where the probe at load
found K-quant kernels that round a call's remainder differently; see ``LlamaCppModel._eval``),
so the logits equal a fresh evaluation's whatever the slot held before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sociallearn.errors import UserError
from sociallearn.models.base import common_prefix
from sociallearn.models.llamacpp_sampling import Logits

if TYPE_CHECKING:
    from sociallearn.models.llamacpp import LlamaCppModel

# One more than the teachers of a typical private-generation unit plus the public prompt; each
# slot holds the model's n_ctx (SmolLM2-135M: about 47 MB at 2048 tokens in f16).
DEFAULT_SLOTS = 16


class PromptSlots:
    """``n`` KV sequences, each holding one recent prompt.

    A prompt goes to the slot sharing the longest prefix with it when that covers at least half
    of it, else to the least recently used slot.
    """

    def __init__(self, model: LlamaCppModel, n: int = DEFAULT_SLOTS) -> None:
        self._m = model
        lib = model._lib
        params = lib.llama_context_params.from_buffer_copy(model._llm.context_params)
        params.n_ctx = model.n_ctx * n
        params.n_batch = model._n_batch
        params.n_ubatch = model._n_ubatch
        params.n_seq_max = n
        params.kv_unified = False
        ctx = lib.llama_init_from_model(model._llm.model, params)
        if not ctx:
            raise UserError(
                f"cannot create a llama.cpp context of {n} x {model.n_ctx} tokens for "
                "next-token distributions: lower the model option n_ctx"
            )
        self._ctx: Any = ctx
        self._memory = lib.llama_get_memory(ctx)
        self._batch: Any = lib.llama_batch_init(model._n_batch, 0, 1)
        self.n = n
        self._kv: list[list[int]] = [[] for _ in range(n)]
        self._used = [0] * n  # last use, by a counter (least recently used is evicted)
        self._clock = 0

    def close(self) -> None:
        lib = self._m._lib
        if self._batch is not None:
            lib.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            lib.llama_free(self._ctx)
            self._ctx = None

    def last_logits(self, tokens: Sequence[int]) -> Logits:
        """The logits after ``tokens``, from the slot that already holds most of them."""
        shared = [common_prefix(kv, tokens) for kv in self._kv]
        best = max(shared)
        if 2 * best >= len(tokens):
            slot = max((s for s in range(self.n) if shared[s] == best), key=self._used.__getitem__)
        else:
            # Little to reuse: take the least recently used slot (an empty one first) rather
            # than evict a prompt that shares only a few opening tokens with this one.
            slot = min(range(self.n), key=self._used.__getitem__)
        self._clock += 1
        self._used[slot] = self._clock
        start = self._m._exact_start(min(shared[slot], len(tokens) - 1), len(tokens))
        lib = self._m._lib
        kv = self._kv[slot]
        if start < len(kv) and not lib.llama_memory_seq_rm(self._memory, slot, start, -1):
            lib.llama_memory_seq_rm(self._memory, slot, -1, -1)
            start = 0
        del kv[start:]
        row: Logits | None = None
        step = self._m._chunk
        for at in range(start, len(tokens), step):
            chunk = tokens[at : at + step]
            row = self._decode(slot, chunk, at, last=at + len(chunk) == len(tokens))
            kv.extend(chunk)
        assert row is not None
        return row

    def _decode(self, slot: int, chunk: Sequence[int], pos0: int, *, last: bool) -> Logits | None:
        m = self._m
        lib, batch = m._lib, self._batch
        n = len(chunk)
        extra = m._padding(n, pos0)
        for i, token in enumerate([*chunk, *[chunk[-1]] * extra]):
            batch.token[i] = token
            batch.pos[i] = pos0 + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = slot
            batch.logits[i] = last and i == n - 1
        batch.n_tokens = n + extra
        code = lib.llama_decode(self._ctx, batch)
        if code != 0 or (extra and not lib.llama_memory_seq_rm(self._memory, slot, pos0 + n, -1)):
            # The slot's state is unknown now: empty it, so no later request trusts it.
            lib.llama_memory_seq_rm(self._memory, slot, -1, -1)
            self._kv[slot] = []
            from sociallearn.models.llamacpp import decode_failure  # (imports this module)

            raise RuntimeError(decode_failure(code, n))
        m.decoded_tokens += n + extra
        if not last:
            return None
        ptr = lib.llama_get_logits_ith(self._ctx, n - 1)
        return np.ctypeslib.as_array(ptr, shape=(m._n_vocab,)).copy()
