"""A small canary audit on the real embedded model (SmolLM2-135M GGUF)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sociallearn.errors import UserError
from sociallearn.privacy import audit_prompt, make_canary_set
from sociallearn.tasks.base import Example
from sociallearn.tasks.builtin import SMS_SPAM

pytestmark = pytest.mark.embedded

SILO = [
    ("Ok lar... Joking wif u oni...", "not spam"),
    (
        "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121",
        "spam",
    ),
    ("U dun say so early hor... U c already then say...", "not spam"),
]


@pytest.fixture(scope="module")
def model() -> Iterator[Any]:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("sociallearn.models.llamacpp")
    from sociallearn.models.llamacpp import LlamaCppModel
    from sociallearn.models.registry import create_model

    try:
        instance = create_model("llamacpp:smollm2", n_ctx=1024, n_threads=1)
    except UserError as exc:
        pytest.skip(str(exc))
    assert isinstance(instance, LlamaCppModel)  # close() is the backend's own
    yield instance
    instance.close()


@pytest.mark.parametrize("template", SMS_SPAM.canaries, ids=lambda t: t.name)
def test_canary_in_the_prompt_ranks_first_and_scores_higher(template: Any, model: Any) -> None:
    examples = [Example(fields={"text": t}, target=label) for t, label in SILO]
    cs = make_canary_set(template, n_total=20, seed=1)
    without = SMS_SPAM.render_many(examples)
    # The canary sits among the examples, as when the original-examples baseline shows it.
    with_canary = (
        SMS_SPAM.render_many(examples[:2])
        + cs.canary
        + SMS_SPAM.separator
        + SMS_SPAM.render_many(examples[2:])
    )
    seen = audit_prompt(model, with_canary, cs)
    unseen = audit_prompt(model, without, cs)
    assert seen.n_references == unseen.n_references == 19
    # A language model copies from its context: the canary it has just read beats all 19
    # references that differ from it only in the secret.
    assert seen.rank == 0
    assert seen.canary_score > unseen.canary_score
    assert seen.exposure > unseen.exposure
