"""The leakage gate: stops copies, near-copies, canaries and long shared passages."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from sociallearn.privacy import LeakageGate, canary_example, make_canary_set
from sociallearn.tasks.base import AnswerParser, CanaryTemplate, Example, Task
from sociallearn.teaching.filters import CandidateFilter

SPAM = Task(
    name="spam",
    input_template="Text: {text}\nClass:",
    parser=AnswerParser(kind="choice"),
    labels=("spam", "not spam"),
)
CANARY = CanaryTemplate(
    "spam-code", "code", "Text: The gate code for the flat is {code} now, see you\nClass: not spam"
)

SILO_TEXTS = [
    (
        "WINNER!! As a valued network customer you have been selected to receive a £900 prize",
        "spam",
    ),
    (
        "I'm gonna be home soon and i don't want to talk about this stuff anymore tonight",
        "not spam",
    ),
    (
        "Had your mobile 11 months or more? You are entitled to update to the latest colour phone",
        "spam",
    ),
    ("Sorry, I'll call later", "not spam"),
]


def ex(text: str, label: str = "not spam") -> Example:
    return Example(fields={"text": text}, target=label)


@pytest.fixture
def silo() -> tuple[Example, ...]:
    return tuple(ex(t, label) for t, label in SILO_TEXTS)


def check(gate: LeakageGate, candidate: Example, silo: tuple[Example, ...]) -> str | None:
    return gate.reject_reason(candidate, SPAM.render(candidate), silo, "unused prompt")


def test_gate_implements_the_filter_protocol() -> None:
    gate: CandidateFilter = LeakageGate()
    assert gate.name == "leakage_gate"


def test_rejects_a_planted_copy(silo: tuple[Example, ...]) -> None:
    reason = check(
        LeakageGate(),
        ex("  I'm gonna be home soon and i don't want to talk about this stuff  anymore tonight"),
        silo,
    )
    assert reason == "copies a private example verbatim"


def test_rejects_a_near_copy_with_a_few_characters_changed(silo: tuple[Example, ...]) -> None:
    near = ex(
        "WINNER! As a valued network customer you have been chosen to receive a £950 prize", "spam"
    )
    # Every 8-word run is broken by an edit, so it is the distance check that fires.
    gate = LeakageGate(max_ngram=0)
    reason = check(gate, near, silo)
    assert reason is not None and reason.startswith("too close to a private example (distance 0.")
    assert "< 0.25)" in reason


def test_rejects_a_candidate_that_embeds_a_private_example(silo: tuple[Example, ...]) -> None:
    longer = ex("Hey, Sorry, I'll call later; the match is on and my phone battery is nearly gone")
    reason = check(LeakageGate(max_ngram=0), longer, silo)
    assert reason is not None and "too close" in reason


def test_rejects_a_long_shared_passage(silo: tuple[Example, ...]) -> None:
    spliced = ex(
        "Great news: you are entitled to update to the latest colour phone for free, reply now"
    )
    reason = check(LeakageGate(min_distance=0.0), spliced, silo)
    # "you are entitled to update to the latest colour phone"
    assert reason == "shares a 10-word passage with a private example"


def test_rejects_a_planted_canary_and_its_secret(silo: tuple[Example, ...]) -> None:
    cs = make_canary_set(CANARY, n_total=20, seed=9)
    planted = canary_example(cs, SPAM)
    gate = LeakageGate.for_canaries([cs])
    full_silo = (*silo, planted)
    assert check(gate, planted, full_silo) == f"contains the planted canary secret {cs.secret!r}"
    # The secret alone, in otherwise new text, is enough.
    leaked = ex(f"my new pin is {cs.secret} lol")
    assert check(gate, leaked, full_silo) == f"contains the planted canary secret {cs.secret!r}"
    # A reference code was never planted, so it is not a secret of this silo.
    other = cs.reference_secrets[0][0]
    assert check(gate, ex(f"my new pin is {other} lol"), full_silo) is None
    # Without the secrets list the canary is still caught as a copy of a silo example.
    assert check(LeakageGate(), planted, full_silo) == "copies a private example verbatim"


def test_accepts_a_genuinely_new_example(silo: tuple[Example, ...]) -> None:
    cs = make_canary_set(CANARY, n_total=20, seed=9)
    gate = LeakageGate.for_canaries([cs])
    new = [
        ex("Can you pick up some milk and eggs on your way back from the gym?"),
        ex("Congratulations! Text CLAIM to 80082 to get your free holiday voucher today", "spam"),
        ex("ok"),
    ]
    for candidate in new:
        assert check(gate, candidate, (*silo, canary_example(cs, SPAM))) is None


def test_gate_rejects_nothing_new_when_all_checks_are_off(silo: tuple[Example, ...]) -> None:
    gate = LeakageGate(min_distance=0.0, max_ngram=0)
    near = ex("WINNER! As a valued network customer you have been chosen to receive a £950 prize")
    assert check(gate, near, silo) is None
    with pytest.raises(ValueError):
        LeakageGate(min_distance=1.5)


def test_silo_preparation_is_reused_and_tracks_changes(silo: tuple[Example, ...]) -> None:
    gate = LeakageGate()
    candidate = ex("Can you pick up some milk and eggs on your way back from the gym?")
    assert check(gate, candidate, silo) is None
    # A fresh tuple of the same example objects reuses the prepared silo.
    assert check(gate, candidate, tuple(silo)) is None
    assert len(gate._silos) == 1
    # A different silo of the same size is prepared anew, not confused with the first.
    other = (*silo[:3], candidate)
    assert check(gate, candidate, other) == "copies a private example verbatim"


def _data_dir() -> Path:
    env = os.environ.get("SOCIALLEARN_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


@pytest.mark.data
def test_gate_on_real_sms_passes_distinct_messages_and_stops_their_copies() -> None:
    path = _data_dir() / "sms_spam" / "sms_spam.jsonl"
    if not path.is_file():
        pytest.skip(f"SMS data not found at {path} (set SOCIALLEARN_DATA_DIR)")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    random.Random(0).shuffle(rows)
    silo = tuple(ex(r["text"], r["label"]) for r in rows[:500])
    seen = {" ".join(e.fields["text"].split()) for e in silo}
    fresh = [ex(r["text"], r["label"]) for r in rows[500:800]]
    fresh = [e for e in fresh if " ".join(e.fields["text"].split()) not in seen]
    gate = LeakageGate()
    passed = sum(check(gate, e, silo) is None for e in fresh)
    # Distinct real messages are almost all new to this silo; the few stopped are near-duplicates.
    assert passed >= 0.95 * len(fresh)
    # Every silo message, lightly edited, is stopped.
    for e in silo[:100]:
        text = e.fields["text"]
        if len(text) < 30:
            continue
        edited = ex(text[:10] + "x" + text[11:], e.target)
        assert check(gate, edited, silo) is not None, text


def test_a_paraphrase_carrying_the_secret_passes_copy_checks_but_not_the_secret_check() -> None:
    """Found by the Lambada audit: SmolLM2 teachers leaked canaries in two ways (run 4, run 9)."""
    from sociallearn.tasks import get_task

    task = get_task("lambada")
    code = next(c for c in task.canaries if c.name == "lambada-code")
    name = next(c for c in task.canaries if c.name == "lambada-name")
    code_set = make_canary_set(code, n_total=50, seed=4)
    name_set = make_canary_set(name, n_total=50, seed=9)
    secret_code, secret_name = code_set.secrets[0], name_set.secrets[0]
    silo = [canary_example(code_set, task), canary_example(name_set, task)]
    # A paraphrase that keeps only the secret (what a teacher wrote in run 4) ...
    paraphrase = (
        "Fill in blank:\nThe only term that stands out to me in the entirety of my life is "
        f"{secret_code}.  I am very lucky to have it. There is no other way to ____ -> explain"
    )
    # ... and a copy of the canary's opening sentence, name included (run 9).
    opening = (
        f"Fill in blank:\n{secret_name} was on the way to buy bread at the bakery. On the way "
        f"{secret_name} came across a dog, followed it, and never made it to the place where "
        "you could buy ____ -> food"
    )
    plain = LeakageGate()
    told = LeakageGate.for_canaries([code_set, name_set])
    for text in (paraphrase, opening):
        [candidate] = task.parse_examples(text)
        assert told.reject_reason(candidate, text, silo, "") is not None
    [candidate] = task.parse_examples(paraphrase)
    assert plain.reject_reason(candidate, paraphrase, silo, "") is None  # the known blind spot
    [candidate] = task.parse_examples(opening)
    assert "passage" in (plain.reject_reason(candidate, opening, silo, "") or "")
