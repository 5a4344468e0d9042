"""private_generation: examples written token by token from the teachers' noisy aggregate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dp_accounting")

from fake_runs import DP_UNIT, fake_run_config, result_rows
from sociallearn.errors import CapabilityError, ConfigError
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.runner import run_experiment
from sociallearn.models.fake import FakeModel
from sociallearn.privacy.accounting import PrivacyLedger
from sociallearn.seeds import mix_seed
from sociallearn.tasks.base import AnswerParser, Example, Task
from sociallearn.teaching.boundary import Boundary
from sociallearn.teaching.methods.private_generation import PrivateGeneration
from sociallearn.teaching.methods.private_labels import public_header
from sociallearn.teaching.rounds import MethodContext, run_rounds
from sociallearn.teaching.teacher import Teacher
from sociallearn.teaching.transcript import STUDENT, Transcript

PRIVATE_WORDS = ("apple", "river", "candle", "mountain", "violet", "harbor", "pencil", "garden")


def _boundary(
    task: Task, private: list[Example], teacher_model: FakeModel | None = None
) -> Boundary:
    transcript = Transcript("u")
    model = teacher_model or FakeModel()
    teachers = [
        Teacher(f"teacher-{i}", task, model, private[i::4], transcript=transcript) for i in range(4)
    ]
    return Boundary(task, teachers, transcript, aggregation="trusted", student_model=FakeModel())


def test_tokens_come_only_from_the_public_candidates(
    spam_task: Task, private_examples: list[Example]
) -> None:
    boundary = _boundary(spam_task, private_examples)
    method = PrivateGeneration(sigma=0.05, max_tokens=6, public_top=30, shots=3)
    context = MethodContext(spam_task, 2, 0, boundary)
    taught = run_rounds(method.plan, context, boundary)
    examples = taught.curriculum.examples
    assert [e.target for e in examples] == ["spam", "not spam"]  # labels round-robin
    for e in examples:
        assert e.fields["text"]
        # The teachers' private words are not in the public prompt, so never candidates.
        assert not any(w in e.fields["text"] for w in PRIVATE_WORDS)
    assert taught.ledger is not None
    assert taught.ledger.covers() == ("generation",)
    # One Gaussian event per released token (and per token of examples not kept).
    assert 1 <= taught.ledger.releases <= 2 * 6 * context.max_rounds_factor
    assert all(e.noise == 0.05 and e.sensitivity == 2**0.5 for e in taught.ledger.events)
    released = [m for m in boundary.transcript if m.recipient == STUDENT]
    assert [m.kind for m in released] == ["release", "release"]


def test_the_teachers_distributions_steer_the_tokens(
    spam_task: Task, private_examples: list[Example]
) -> None:
    """With little noise the released token is the candidate with the largest summed teacher
    probability (recomputed here through the same boundary services). The teachers' model
    prefers tokens with "spam" (+5 nats); the public model does not."""
    boundary = _boundary(spam_task, private_examples, FakeModel(preferences=["spam"]))
    method = PrivateGeneration(sigma=1e-3, max_tokens=1, public_top=50, shots=4)
    context = MethodContext(spam_task, 1, 0, boundary)
    public = boundary.public_next_tokens(0, public_header(spam_task) + "Text:", 50)
    candidates = list(dict.fromkeys([*public, "\n"]))
    dists = boundary.next_token_distributions(0, "Text:", candidates, "spam", 4, mix_seed(0, 43, 0))
    best = max(candidates, key=lambda c: sum(d[c] for d in dists))
    assert "spam" in best
    taught = run_rounds(method.plan, context, boundary)
    [example] = taught.curriculum.examples
    assert example.fields["text"] == best.strip()


def test_exponential_mechanism_is_charged_per_token(
    spam_task: Task, private_examples: list[Example]
) -> None:
    boundary = _boundary(spam_task, private_examples)
    method = PrivateGeneration(mechanism="exponential", temperature=2.0, max_tokens=3)
    context = MethodContext(spam_task, 1, 0, boundary)
    taught = run_rounds(method.plan, context, boundary)
    assert taught.ledger is not None
    assert {e.mechanism for e in taught.ledger.events} == {"exponential"}
    assert all(e.pure_epsilon == 1.0 for e in taught.ledger.events)


def test_max_epsilon_stops_generation_with_a_shortfall(
    spam_task: Task, private_examples: list[Example]
) -> None:
    boundary = _boundary(spam_task, private_examples)
    method = PrivateGeneration(sigma=2.0, max_tokens=4, max_epsilon=3.0)
    context = MethodContext(spam_task, 50, 0, boundary)
    taught = run_rounds(method.plan, context, boundary)
    assert taught.ledger is not None
    summary = taught.ledger.summary()
    assert summary["stopped_by_budget"]
    assert summary["epsilon"] <= 3.0
    assert taught.curriculum.shortfall == 50 - len(taught.curriculum.examples) > 0
    # One more token would not have fitted.
    more = PrivacyLedger([*taught.ledger.events, method.token_event()])
    assert more.epsilon(1e-5) > 3.0


class _PlainModel:
    model_id = "plain"

    def generate(self, prompts: Any, params: Any) -> list[Any]:
        return []

    def score(self, requests: Any) -> list[Any]:
        return []


def test_a_backend_without_next_token_distributions_is_refused() -> None:
    with pytest.raises(CapabilityError, match=r"private_generation .*needs next-token"):
        PrivateGeneration().check_models(_PlainModel(), FakeModel())


def test_generation_task_is_refused() -> None:
    cloze = Task("cloze", "Text: {text}\nWord:", AnswerParser("first_word"))
    with pytest.raises(ConfigError, match="private_generation needs a classification task"):
        PrivateGeneration().check(cloze, 4)


def _config(out: Path, **extra: Any) -> ExperimentConfig:
    method = {"name": "private_generation", "sigma": 0.5, "max_tokens": 6}
    return fake_run_config(out, DP_UNIT, {"methods": [method]}, **extra)


def test_a_run_row_holds_the_generation_events(tmp_path: Path) -> None:
    run_experiment(_config(tmp_path / "r"))
    [row] = result_rows(tmp_path / "r")
    privacy = row["privacy"]
    assert privacy["covers"] == ["generation"]
    ledger = PrivacyLedger.from_list(privacy["events"])
    assert ledger.epsilon(1e-5) == pytest.approx(privacy["epsilon"])


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        ({"aggregation": "student"}, r"^methods\[0\]: 'private_generation.*trusted"),
        ({"methods": [{"name": "private_generation", "sigma": -1}]}, r"^methods\[0\]\.sigma: "),
        (
            {"methods": [{"name": "private_generation", "max_epsilon": 0.001}]},
            r"max_epsilon 0.001 is below the ε of a single release",
        ),
    ],
)
def test_bad_input_is_refused_before_any_unit(
    tmp_path: Path, extra: dict[str, Any], pattern: str
) -> None:
    with pytest.raises(ConfigError, match=pattern):
        run_experiment(_config(tmp_path / "r", **extra))


@pytest.mark.embedded
def test_private_generation_unit_on_the_embedded_model(tmp_path: Path) -> None:
    """One private-generation unit on SMS spam with the real SmolLM2 (a few short examples)."""
    config = _config(
        tmp_path / "r",
        model="llamacpp:smollm2",
        model_options={"n_threads": 1, "n_ctx": 1024},
        methods=[
            {
                "name": "private_generation",
                "sigma": 0.5,
                "max_tokens": 4,
                "public_top": 10,
                "shots": 1,
            }
        ],
        n=[1],
        teachers=2,
        silo_size=6,
        limit=2,
    )
    run_experiment(config)
    [row] = result_rows(tmp_path / "r")
    assert row["privacy"]["covers"] == ["generation"]
    assert 1 <= row["privacy"]["releases"] <= 4 * 3
    assert row["privacy"]["epsilon"] > 0
    assert row["n_items"] == 2
