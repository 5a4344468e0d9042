"""Samples of one prompt decoded together, one ``llama_decode`` per step (model option ``batch``).

The context holds ``batch + 1`` KV streams. Sequence 0 is the model's ordinary sequence with its
prefix reuse; it evaluates the prompt once. Sequences 1..batch are *lanes*: each gets the prompt
by a copy of stream 0 (``llama_memory_seq_cp``, memory only, no decoding), then every step
decodes one token of each running sample in one batch. Samples beyond ``batch`` take a lane as
one finishes; when none are left, the top lanes are copied down so that running lanes stay
1..k (llama.cpp puts sequences in one micro-batch only when their ids are consecutive).

Why one stream per sequence (``kv_unified = false``): with llama.cpp's unified cache, cells of
other sequences at the same positions leaked into attention and moved log-probs by up to 0.41
nats; separate streams gave bit-identical results. llama.cpp then sizes every stream alike
(``n_ctx`` per sequence, so the KV cache takes ``batch + 1`` times the memory) and copies only
whole streams.

What is *not* batched, and why: scoring, and prompts that differ. With llama-cpp-python 0.3.36,
micro-batches whose sequences were at different positions, and some after a lane had been
trimmed and refilled, gave log-probs 0.04-0.6 nats away from the sequential path (a randomized
comparison against ``batch: 1`` found 4 of 30 cases wrong; one lane per decode, 0 of 30);
distinct prompts generated together, even with only lanes at equal positions sharing a decode,
gave log-prob sums 0.04 nats off in 2 of 10 calls. Samples of one prompt (lanes copied from
one evaluation of it, one token per lane per step, lanes at equal positions together) matched
bit for bit in 64 of 64 randomized teaching calls (2-8 samples on 4 and 8 lanes, grammars,
refilled and compacted lanes), so only they are batched; everything else takes the sequential
path.

Sampling uses the same sampler chain, seed and grammar per sample as the sequential path, fed
with a copy of the logits row (``Samplers.sample_row``), so a sample depends only on its own
logits, never on its neighbours in a batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from sociallearn.errors import UserError
from sociallearn.models.base import common_prefix
from sociallearn.models.llamacpp_sampling import Logits, SampleState

if TYPE_CHECKING:
    from sociallearn.models.llamacpp import LlamaCppModel


def lane_context(lib: Any, llm: Any, n_ctx: int, n_batch: int, lanes: int) -> Any:
    """A context of ``llm``'s model with one KV stream of ``n_ctx`` tokens for sequence 0 and
    for each lane (``llm`` is closed when llama.cpp cannot make it)."""
    params = lib.llama_context_params.from_buffer_copy(llm.context_params)
    params.n_ctx = n_ctx * (lanes + 1)
    params.n_batch = n_batch
    params.n_ubatch = min(n_batch, 512)
    params.n_seq_max = lanes + 1
    # Separate streams: the unified cache let sequences at equal positions see each other.
    params.kv_unified = False
    ctx = lib.llama_init_from_model(llm.model, params)
    if not ctx:
        llm.close()
        raise UserError(
            f"cannot create a llama.cpp context of {lanes + 1} x {n_ctx} tokens "
            f"(option batch {lanes}, n_ctx {n_ctx}): lower batch or n_ctx"
        )
    return ctx


@dataclass(frozen=True)
class LaneTarget:
    """Make ``lane`` hold exactly ``tokens``; return its logits rows for positions >= logits_from.

    ``exact`` decodes at least two tokens (see ``LlamaCppModel._eval``); sampling steps skip it.
    """

    lane: int
    tokens: tuple[int, ...]
    logits_from: int
    exact: bool = True


class Lanes:
    """Sequences 1..n of a model's context, evaluated together."""

    def __init__(self, model: LlamaCppModel, n_lanes: int) -> None:
        self._m = model
        self.n = n_lanes
        self._kv: list[list[int]] = [[] for _ in range(n_lanes + 1)]  # index 0 unused

    def reset(self) -> None:
        """The whole KV memory was cleared."""
        for kv in self._kv:
            kv.clear()

    # ---------------------------------------------------------------------------- decoding

    def eval(self, targets: Sequence[LaneTarget]) -> dict[int, list[Logits]]:
        """Bring every lane to its target; decode lanes at equal positions together.

        A lane starts from a copy of sequence 0 when that holds at least as much of its target
        as the lane itself (llama.cpp copies streams only entire), else from its own KV.
        """
        m = self._m
        lib, mem = m._lib, m._memory
        base = m._kv
        todo: list[tuple[LaneTarget, int]] = []  # (target, next position to decode)
        for t in sorted(targets, key=lambda t: t.lane):
            if not 1 <= t.lane <= self.n or not 0 <= t.logits_from < len(t.tokens):
                raise ValueError(f"bad lane target: lane {t.lane}, logits_from {t.logits_from}")
            own = min(common_prefix(self._kv[t.lane], t.tokens), t.logits_from)
            shared = min(common_prefix(base, t.tokens), t.logits_from)
            if shared > 0 and shared >= own:
                lib.llama_memory_seq_cp(mem, 0, t.lane, -1, -1)
                self._kv[t.lane] = list(base)
                own = shared
            start = own
            if t.exact and start == len(t.tokens) - 1 and start > 0:
                start -= 1
            if start < len(self._kv[t.lane]):
                lib.llama_memory_seq_rm(mem, t.lane, start, -1)
                del self._kv[t.lane][start:]
            todo.append((t, start))
        rows: dict[int, list[Logits]] = {t.lane: [] for t, _ in todo}
        while todo:
            # One micro-batch per llama_decode: consecutive lanes at the same positions, the
            # same number of tokens from each. Streams at different positions in one
            # micro-batch gave wrong log-probs (see the module doc), so they go apart.
            run = [todo[0]]
            for item in todo[1:]:
                if item[0].lane != run[-1][0].lane + 1 or item[1] != run[0][1]:
                    break
                run.append(item)
            share = min(max(1, m._n_ubatch // len(run)), *(len(t.tokens) - pos for t, pos in run))
            entries = [
                (t.lane, p, t.tokens[p], p >= t.logits_from)
                for t, pos in run
                for p in range(pos, pos + share)
            ]
            wanted = [e[0] for e in entries if e[3]]
            for lane, row in zip(wanted, self._decode(entries), strict=True):
                rows[lane].append(row)
            for t, pos in run:
                self._kv[t.lane].extend(t.tokens[pos : pos + share])
            moved = {t.lane: pos + share for t, pos in run}
            todo = [
                (t, moved.get(t.lane, pos))
                for t, pos in todo
                if moved.get(t.lane, pos) < len(t.tokens)
            ]
        return rows

    def _decode(self, entries: Sequence[tuple[int, int, int, bool]]) -> list[Logits]:
        """One ``llama_decode`` of (lane, position, token, wants logits) entries."""
        m = self._m
        lib, batch = m._lib, m._batch
        for i, (lane, pos, token, want) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = lane
            batch.logits[i] = want
        batch.n_tokens = len(entries)
        code = lib.llama_decode(m._ctx, batch)
        if code != 0:
            m._forget()
            raise RuntimeError(f"llama_decode failed with code {code} ({len(entries)} tokens)")
        m.decoded_tokens += len(entries)
        out: list[Logits] = []
        for i, (_, _, _, want) in enumerate(entries):
            if want:
                # By batch index: llama.cpp maps it to the output row whatever its micro-batches.
                ptr = lib.llama_get_logits_ith(m._ctx, i)
                out.append(np.ctypeslib.as_array(ptr, shape=(m._n_vocab,)).copy())
        return out

    # -------------------------------------------------------------------------- generation

    def generate(self, states: Sequence[SampleState]) -> None:
        """Run every sample to its end, up to ``n`` at a time; lanes are refilled as they free.

        The prompts' common prefix is evaluated once in sequence 0; a sample whose prompt is
        that prefix draws its first token from that row, as the sequential path does.
        """
        m = self._m
        prompts = [s.prompt for s in states]
        n_common = min((len(p) for p in prompts), default=0)
        for p in prompts[1:]:
            n_common = min(n_common, common_prefix(prompts[0], p))
        row0: Logits | None = None
        if n_common and any(s.can_sample() for s in states):
            [row0] = m._eval(prompts[0][:n_common], logits_from=n_common - 1)
        queue = deque(s for s in states if s.can_sample())
        running: dict[int, SampleState] = {}
        ready: dict[int, Logits] = {}
        need: list[LaneTarget] = []
        while queue or running:
            for lane in range(1, self.n + 1):
                if not queue:
                    break
                if lane in running:
                    continue
                state = queue.popleft()
                running[lane] = state
                if row0 is not None and len(state.prompt) == n_common:
                    ready[lane] = row0
                else:
                    prompt = tuple(state.prompt)
                    need.append(LaneTarget(lane, prompt, len(prompt) - 1, exact=True))
            if need:
                for lane, lane_rows in self.eval(need).items():
                    ready[lane] = lane_rows[-1]
                need = []
            for lane in sorted(ready):
                state = running[lane]
                row = ready[lane]
                token = m._samplers.sample_row(state.sampler, row)
                eog = bool(m._lib.llama_vocab_is_eog(m._vocab, token))
                state.take(token, row, eog, partial(m._detokenize, prompt=state.prompt))
                if not state.can_sample():
                    del running[lane]
            ready = {}
            if not queue:
                running = self._compact(running)
            for lane, state in sorted(running.items()):
                tokens = (*state.prompt, *state.generated)
                need.append(LaneTarget(lane, tokens, len(tokens) - 1, exact=False))

    def _compact(self, running: dict[int, SampleState]) -> dict[int, SampleState]:
        """Move the highest lanes into free lower ones, so running lanes are 1..k again.

        A stream copy (memory only) per move; it keeps every step one micro-batch.
        """
        lanes = sorted(running)
        moved = dict(running)
        for free in range(1, len(lanes) + 1):
            if free in moved:
                continue
            top = max(moved)
            self._m._lib.llama_memory_seq_cp(self._m._memory, top, free, -1, -1)
            self._kv[free] = list(self._kv[top])
            moved[free] = moved.pop(top)
        return moved
