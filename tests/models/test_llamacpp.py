"""The embedded llama.cpp backend on the real SmolLM2-135M GGUF (small inputs, a few seconds)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sociallearn.errors import UserError
from sociallearn.models.base import GenerationParams, LanguageModel, ScoreRequest
from sociallearn.models.embedded import find_embedded_gguf
from sociallearn.models.llamacpp_load import default_extra_buffers, extra_buffers_set
from sociallearn.models.registry import create_model

pytestmark = pytest.mark.embedded

SHOTS = (
    "Text: WINNER! Claim your free prize now\nClass: spam\n\n"
    "Text: Are we still meeting for lunch?\nClass: not spam\n\n"
)


def _hand_logprobs(gguf: Path, context: str, continuation: str) -> list[float]:
    """Log-softmax of every position's logits from a separate Llama with logits_all=True."""
    import llama_cpp

    # The same buffer types as the model under test: the same kernels, and no AMX on a machine
    # that advertises but cannot run it.
    with extra_buffers_set(llama_cpp, default_extra_buffers()):
        llm = llama_cpp.Llama(
            str(gguf), n_ctx=256, logits_all=True, verbose=False, n_threads=1, n_threads_batch=1
        )
    try:
        ctx = llm.tokenize(context.encode(), add_bos=True)
        joint = llm.tokenize((context + continuation).encode(), add_bos=True)
        if joint[: len(ctx)] == ctx:
            cont = joint[len(ctx) :]
        else:
            cont = llm.tokenize(continuation.encode(), add_bos=False)
        llm.eval(ctx + cont)
        logits = np.asarray(llm.scores[: len(ctx) + len(cont)], dtype=np.float64)
    finally:
        llm.close()
    out = []
    for j, token in enumerate(cont):
        row = logits[len(ctx) - 1 + j]  # the row *before* the token predicts it
        lse = row.max() + np.log(np.exp(row - row.max()).sum())
        out.append(float(row[token] - lse))
    return out


@pytest.mark.parametrize(
    ("context", "continuation"),
    [
        ("The capital of France is", " Paris, a city on the Seine."),
        (SHOTS + "Text: Call now to win cash\nClass:", " spam"),
        # Context ends in a space: the joint tokenization differs, continuation scored alone.
        ("Label: ", "not spam"),
    ],
)
def test_score_matches_hand_computation(
    embedded_model: Any, embedded_gguf: Path, context: str, continuation: str
) -> None:
    [score] = embedded_model.score([ScoreRequest(context, continuation)])
    expected = _hand_logprobs(embedded_gguf, context, continuation)
    assert score.n_tokens == len(expected) > 0
    assert np.allclose(score.token_logprobs, expected, atol=1e-4)
    assert score.logprob_sum == pytest.approx(sum(expected), abs=1e-3)


def _compare_with_naive(embedded_model: Any, reqs: list[ScoreRequest]) -> tuple[Any, int, int]:
    """Score with reuse and naively; check they agree; return (scores, work, naive work)."""
    from sociallearn.models.llamacpp import LlamaCppModel

    naive = LlamaCppModel.from_spec("smollm2", n_ctx=1024, n_threads=1, prefix_reuse=False)
    try:
        without = naive.score(reqs)
        naive_work = naive.decoded_tokens
    finally:
        naive.close()
    before = embedded_model.decoded_tokens
    with_reuse = embedded_model.score(reqs)
    for a, b in zip(with_reuse, without, strict=True):
        assert a.n_tokens == b.n_tokens
        assert np.allclose(a.token_logprobs, b.token_logprobs, atol=1e-3)
    return with_reuse, embedded_model.decoded_tokens - before, naive_work


def test_prefix_reuse_agrees_with_full_evaluation(embedded_model: Any) -> None:
    queries = ["Free entry to win a car", "Can you pick up milk?", "URGENT: account locked"]
    options = [" spam", " not spam", " definitely not spam at all"]
    reqs = [ScoreRequest(SHOTS + f"Text: {q}\nClass:", o) for q in queries for o in options] + [
        ScoreRequest("Unrelated context", " here"),
        ScoreRequest("Unrelated context", ""),
    ]
    with_reuse, reuse_work, naive_work = _compare_with_naive(embedded_model, reqs)
    assert with_reuse[-1].n_tokens == 0
    # Reuse must actually skip the shared prefix, not merely agree.
    assert reuse_work < naive_work / 3


def test_shared_continuation_prefixes_are_decoded_once(embedded_model: Any) -> None:
    """Canary-like continuations that differ in a few tokens: same scores, far fewer decodes."""
    tail = " opens the safe, and nobody else may learn this number"
    conts = [f" The code {c}{tail}" for c in ("4821", "4829", "1177", "4821")]
    # One continuation is a proper prefix of another; one is empty.
    conts += [" The code", " The code 4821", ""]
    reqs = [ScoreRequest(SHOTS, c) for c in conts]
    embedded_model.score([ScoreRequest(SHOTS, "")])  # the context itself is not under test
    with_reuse, work, _ = _compare_with_naive(embedded_model, reqs)
    assert with_reuse[0] == with_reuse[3]
    assert with_reuse[-1].n_tokens == 0
    # The tail after each code is decoded per distinct code; the shared " The code" is not.
    total = sum(s.n_tokens for s in with_reuse)
    assert work < total * 0.6


def test_score_order_and_duplicates(embedded_model: Any) -> None:
    a = ScoreRequest("One, two,", " three")
    b = ScoreRequest("Red, green,", " blue")
    s = embedded_model.score([a, b, a])
    assert s[0] == s[2]
    [single_b] = embedded_model.score([b])
    assert s[1].logprob_sum == pytest.approx(single_b.logprob_sum, abs=1e-4)


def test_generation_reproducible_and_diverse(embedded_model: Any) -> None:
    prompt = SHOTS + "Text:"
    params = GenerationParams(max_tokens=12, temperature=1.0, seed=11)
    first = embedded_model.generate([prompt] * 3, params)
    again = embedded_model.generate([prompt] * 3, params)
    assert [c.text for c in first] == [c.text for c in again]
    assert len({c.text for c in first}) > 1
    for c in first:
        assert 0 < c.n_tokens <= 12
        assert c.logprob_sum < 0
        assert not c.constrained


def test_greedy_generation_logprob_matches_score(embedded_model: Any) -> None:
    prompt = "The three primary colours are"
    [c] = embedded_model.generate([prompt], GenerationParams(max_tokens=8, temperature=0.0))
    assert c.finish_reason == "length" and c.n_tokens == 8
    [s] = embedded_model.score([ScoreRequest(prompt, c.text)])
    # The generated tokens re-tokenize the same way here, so the two log-probs coincide up to
    # llama.cpp's rounding in one-token decode steps (about 1e-3 per token).
    assert s.n_tokens == c.n_tokens
    assert s.logprob_sum == pytest.approx(c.logprob_sum, abs=0.05)


def test_stop_strings(embedded_model: Any) -> None:
    prompt = SHOTS + "Text: Hello there\nClass:"
    params = GenerationParams(max_tokens=40, temperature=0.0, stop=("\n",))
    [c] = embedded_model.generate([prompt], params)
    assert "\n" not in c.text
    [full] = embedded_model.generate([prompt], GenerationParams(max_tokens=40))
    if "\n" in full.text:
        assert c.text == full.text[: full.text.index("\n")]
        assert c.finish_reason == "stop"


def test_grammar_constrains_generation(embedded_model: Any) -> None:
    grammar = 'root ::= ("spam" | "not spam") "."'
    params = GenerationParams(max_tokens=10, temperature=1.5, seed=2, grammar=grammar)
    out = embedded_model.generate([SHOTS + "Text: hi mum\nClass: "] * 4, params)
    for c in out:
        assert c.text in {"spam.", "not spam."}
        assert c.constrained


def test_invalid_grammar_is_a_user_error(embedded_model: Any) -> None:
    bad = GenerationParams(max_tokens=4, grammar="root ::= (unclosed")
    with pytest.raises(UserError, match="grammar"):
        embedded_model.generate(["x"], bad)


def test_context_overflow_names_n_ctx() -> None:
    from sociallearn.models.llamacpp import LlamaCppModel

    # llama.cpp rounds the context up to a multiple of 256 tokens.
    small = LlamaCppModel.from_spec("", n_ctx=256, n_threads=1)
    try:
        assert small.n_ctx == 256
        long_text = "word " * 300
        with pytest.raises(UserError, match=r"n_ctx 256"):
            small.score([ScoreRequest(long_text, " end")])
        with pytest.raises(UserError, match=r"n_ctx"):
            small.generate([long_text], GenerationParams(max_tokens=2))
        near_full = "word " * 250
        [c] = small.generate([near_full], GenerationParams(max_tokens=100, temperature=1.0))
        assert small.count_tokens(near_full) + c.n_tokens <= 256
    finally:
        small.close()


def test_missing_gguf_path_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(UserError) as info:
        create_model(f"llamacpp:{missing}")
    assert str(info.value) == f"model file not found: {missing} (expected a .gguf file)"


def test_unknown_option_is_a_user_error() -> None:
    with pytest.raises(UserError, match="n_ctxx"):
        create_model("llamacpp", n_ctxx=10)


def test_extra_buffers_option_is_checked_and_named_in_the_model_id() -> None:
    with pytest.raises(UserError, match="option extra_buffers: expected true or false, got 'no'"):
        create_model("llamacpp:smollm2", n_ctx=64, extra_buffers="no")
    # Off runs on every CPU (on one that advertises AMX it is also the default).
    model = create_model("llamacpp:smollm2", n_ctx=64, n_threads=1, extra_buffers=False)
    assert model.model_id == "llamacpp:smollm2-135m-instruct-q4_1@extra_buffers=false"
    [score] = model.score([ScoreRequest(SHOTS + "Text: Call now to win cash\nClass:", " spam")])
    assert score.logprob_sum < 0 and score.n_tokens >= 1


def test_registry_builds_the_embedded_model(embedded_gguf: Path) -> None:
    from sociallearn.models.llamacpp import LlamaCppModel

    model = create_model("llamacpp:smollm2", n_ctx=64, n_threads=1)
    assert isinstance(model, LanguageModel)
    assert model.model_id == "llamacpp:smollm2-135m-instruct-q4_1"
    path_model = create_model(f"llamacpp:{embedded_gguf}", n_ctx=64, n_threads=1, seed=3)
    assert path_model.model_id == f"llamacpp:{embedded_gguf.name}@seed=3"
    assert find_embedded_gguf() == embedded_gguf
    # Cached answers are keyed by the file's bytes too: the id names only the file.
    digest = hashlib.sha256(embedded_gguf.read_bytes()).hexdigest()[:16]
    assert isinstance(model, LlamaCppModel) and isinstance(path_model, LlamaCppModel)
    assert model.content_digest == path_model.content_digest == digest


def test_count_tokens_and_n_ctx(embedded_model: Any) -> None:
    assert embedded_model.n_ctx == 1024
    assert embedded_model.count_tokens("") == 0
    assert 0 < embedded_model.count_tokens("Hello world") <= 3


def test_thread_count_does_not_change_results() -> None:
    """Why ``n_threads`` is left out of the run fingerprint: 1 and 2 threads agree bit for bit."""
    from sociallearn.models.llamacpp import LlamaCppModel

    requests = [ScoreRequest(SHOTS + "Text: Call now to win cash\nClass:", " spam")]
    params = GenerationParams(max_tokens=12, temperature=0.8, seed=3)
    outputs = []
    for threads in (1, 2):
        # Fresh instances: both evaluate the same batches from an empty KV cache.
        model = LlamaCppModel.from_spec("smollm2", n_ctx=512, n_threads=threads)
        try:
            samples = model.generate([SHOTS + "Text:"] * 2, params)
            outputs.append((model.score(requests), [c.text for c in samples]))
        finally:
            model.close()
    assert outputs[0] == outputs[1]
