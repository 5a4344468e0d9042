"""A teacher: an agent holding private examples that it never hands out.

Everything a teacher returns is a :class:`Lesson` (synthetic examples or an instruction) or a vote.
The silo is kept in a name-mangled slot and is reachable only through the teaching methods below;
``original_examples`` is the one, explicitly marked, exception used as the leaking baseline.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sociallearn.models.base import GenerationParams, LanguageModel, ScoreRequest
from sociallearn.privacy.leakage import normalize_whitespace
from sociallearn.seeds import attempt_seed
from sociallearn.tasks.base import Example, Task
from sociallearn.teaching.filters import CandidateFilter
from sociallearn.teaching.lesson import Candidate, Lesson
from sociallearn.teaching.student import Student
from sociallearn.teaching.transcript import Transcript

# A teacher without held-out examples votes (and judges) from this many of its pool's first
# examples: evidence from its own data, never from another silo's.
FALLBACK_EVIDENCE = 4


@dataclass(frozen=True)
class SynthesisSettings:
    """How a teacher writes synthetic examples (SPEC §3.2; the paper leaves the values open)."""

    n_gen: int = 4  # private examples shown in the generation prompt
    temperature: float = 0.8
    samples: int = 4  # continuations sampled per request
    top_k: int = 2  # continuations kept, lowest perplexity first
    max_tokens: int = 96
    grammar: str | None = None  # GBNF for one example; None = free-form generation
    attempts: int = 3  # sampling rounds allowed when filters reject everything


@dataclass(frozen=True)
class WriteExamples:
    """Write new examples from a few-shot prompt of private ones."""

    settings: SynthesisSettings
    seed: int


@dataclass(frozen=True)
class WriteInstruction:
    """Describe the task in words after reading ``n_examples`` private examples."""

    prompt_template: str
    n_examples: int
    seed: int


@dataclass(frozen=True)
class ShareOriginals:
    """The leaking baseline: hand over ``n`` private examples as they are."""

    n: int
    seed: int


@dataclass(frozen=True)
class EvaluateAndRevise:
    """Run the student's model behind a public ``prompt`` on the held-out private examples,
    report the accuracy, and (when ``write``) write new examples aimed at what failed."""

    prompt: str
    settings: SynthesisSettings
    seed: int
    write: bool = True
    answer_mode: Literal["generate", "score"] = "generate"
    calibrate: bool = False


TeacherRequest = WriteExamples | WriteInstruction | ShareOriginals | EvaluateAndRevise


@dataclass
class GenerationStats:
    """What a teacher observed while generating: counts and distances, never private text."""

    sampled: int = 0
    examined: int = 0  # continuations parsed (the top-k of each request)
    parsed: int = 0
    malformed: int = 0
    truncated: int = 0  # malformed because the continuation ran out of max_tokens
    prompt_copies: int = 0  # exact copies of a prompt example, dropped
    silo_copies: int = 0  # verbatim copies of any private example (before dropping)
    rejected: int = 0  # stopped by a filter (e.g. the leakage gate)
    shared: int = 0
    distances: list[float] = field(default_factory=list)  # of shared candidates to their prompt
    constrained: bool = False
    tokens: int = 0  # tokens generated (every sample, kept or not)

    @classmethod
    def merge(cls, parts: Iterable[GenerationStats]) -> GenerationStats:
        """The sum of several teachers' stats (counts added, distances concatenated)."""
        total = cls()
        for part in parts:
            for name, value in vars(part).items():
                if name == "distances":
                    total.distances.extend(value)
                elif name == "constrained":
                    total.constrained = total.constrained or value
                else:
                    setattr(total, name, getattr(total, name) + value)
        return total


class Teacher:
    """One agent with a private silo. See the module docstring for the privacy contract."""

    __slots__ = (
        "__filters",
        "__forced",
        "__heldout",
        "__pool",
        "__silo",
        "__silo_texts",
        "_task",
        "model",
        "stats",
        "teacher_id",
        "transcript",
    )

    def __init__(
        self,
        teacher_id: str,
        task: Task,
        model: LanguageModel,
        private: Sequence[Example],
        *,
        transcript: Transcript,
        heldout: int = 0,
        filters: Sequence[CandidateFilter] = (),
    ) -> None:
        if heldout >= len(private):
            heldout = max(0, len(private) // 4)
        self.teacher_id = teacher_id
        self._task = task
        self.model = model
        self.transcript = transcript
        self.stats = GenerationStats()
        # The held-out part is for voting only and never used to generate (SPEC §3.2).
        self.__heldout: tuple[Example, ...] = tuple(private[:heldout])
        self.__pool: tuple[Example, ...] = tuple(private[heldout:])
        self.__filters: tuple[CandidateFilter, ...] = tuple(filters)
        self.__forced: tuple[Example, ...] = ()
        self._refresh_silo()

    def _refresh_silo(self) -> None:
        # The whole silo and its rendered texts change only when something is planted.
        self.__silo: tuple[Example, ...] = (*self.__pool, *self.__heldout)
        self.__silo_texts = frozenset(
            normalize_whitespace(self._task.render(e)) for e in self.__silo
        )

    def __repr__(self) -> str:
        return f"Teacher({self.teacher_id!r}, {len(self.__pool)} private examples)"

    @property
    def silo_size(self) -> int:
        return len(self.__pool)

    @property
    def __evidence(self) -> tuple[Example, ...]:
        # What votes and feedback are judged on: the held-out part, or, for a teacher too
        # small to hold one out, the first few pooled examples.
        return self.__heldout or self.__pool[:FALLBACK_EVIDENCE]

    def silo_fingerprints(self) -> frozenset[str]:
        """The silo's rendered, whitespace-normalised texts: for the boundary's audit only."""
        return self.__silo_texts

    def add_filter(self, candidate_filter: CandidateFilter) -> None:
        self.__filters = (*self.__filters, candidate_filter)

    def plant(self, example: Example, copies: int = 1, force: bool = False) -> None:
        """Insert a (canary) example into the private pool, as the privacy audit does.

        ``force`` makes it part of every generation prompt and of the original-examples baseline
        (a stress test; the paper does not say whether its canaries were always shown).
        """
        self.__pool = (*([example] * copies), *self.__pool)
        self._refresh_silo()
        if force:
            self.__forced = (*self.__forced, example)

    # -- lessons ---------------------------------------------------------------------------
    def synthesize_examples(self, settings: SynthesisSettings, round_no: int, seed: int) -> Lesson:
        """Write new examples from a few-shot prompt of private ones (no instruction)."""
        shown = self._prompt_examples(settings, random.Random(seed))
        candidates = self._write_examples(shown, settings, round_no, seed)
        return Lesson(
            teacher_id=self.teacher_id,
            method="synthetic_examples",
            candidates=candidates,
            params={
                "n_gen": settings.n_gen,
                "temperature": settings.temperature,
                "samples": settings.samples,
                "top_k": settings.top_k,
            },
        )

    def _write_examples(
        self, shown: Sequence[Example], settings: SynthesisSettings, round_no: int, seed: int
    ) -> tuple[Candidate, ...]:
        """Sample continuations of a few-shot prompt of ``shown``; keep the screened ones."""
        task = self._task
        prompt = task.render_many(shown)
        shown_texts = {normalize_whitespace(task.render(e)) for e in shown}
        accepted: list[Candidate] = []
        for attempt in range(settings.attempts):
            params = GenerationParams(
                max_tokens=settings.max_tokens,
                temperature=settings.temperature,
                stop=() if settings.grammar else (task.separator * 2,),
                seed=attempt_seed(seed, attempt),
                grammar=settings.grammar,
            )
            completions = self.model.generate([prompt] * settings.samples, params)
            self.stats.sampled += len(completions)
            self.stats.tokens += sum(c.n_tokens for c in completions)
            self.stats.constrained = self.stats.constrained or any(
                c.constrained for c in completions
            )
            # Keep the most likely continuations first (lowest perplexity), as the paper does.
            ranked = sorted(completions, key=lambda c: c.mean_logprob, reverse=True)
            kept = 0
            for completion in ranked:
                if kept >= settings.top_k:
                    break
                self.stats.examined += 1
                examples = task.parse_examples(completion.text)
                if not examples:
                    self.stats.malformed += 1
                    self.stats.truncated += completion.finish_reason == "length"
                    continue
                new = self._screen(examples, prompt, shown_texts, round_no)
                if new:
                    kept += 1
                for example in new:
                    rendered = task.render(example)
                    accepted.append(
                        Candidate(example, self.teacher_id, completion.mean_logprob, rendered)
                    )
            if kept:
                break
        return tuple(accepted)

    def _prompt_examples(self, settings: SynthesisSettings, rng: random.Random) -> list[Example]:
        forced = list(self.__forced)[: settings.n_gen]
        rest = [e for e in self.__pool if e not in forced]
        k = max(0, min(settings.n_gen - len(forced), len(rest)))
        shown = forced + rng.sample(rest, k)
        rng.shuffle(shown)
        return shown

    def _screen(
        self,
        examples: Sequence[Example],
        prompt: str,
        shown_texts: set[str],
        round_no: int,
    ) -> list[Example]:
        from sociallearn.privacy.leakage import normalized_distance

        task = self._task
        kept: list[Example] = []
        for example in examples:
            self.stats.parsed += 1
            rendered = task.render(example)
            key = normalize_whitespace(rendered)
            if key in self.__silo_texts:
                self.stats.silo_copies += 1
            if key in shown_texts:
                self.stats.prompt_copies += 1
                continue
            reason = self._reject_reason(example, rendered, prompt)
            if reason is not None:
                self.stats.rejected += 1
                # Addressed to the teacher itself: the student never learns what was stopped.
                self.transcript.record(
                    round_no, self.teacher_id, self.teacher_id, "rejection", reason
                )
                continue
            self.stats.distances.append(normalized_distance(rendered, prompt))
            self.stats.shared += 1
            kept.append(example)
        return kept

    def _reject_reason(self, candidate: Example, rendered: str, prompt: str) -> str | None:
        """The first filter's reason to withhold ``candidate``, or None when all let it pass."""
        for candidate_filter in self.__filters:
            reason = candidate_filter.reject_reason(candidate, rendered, self.__silo, prompt)
            if reason is not None:
                return reason
        return None

    def write_instruction(
        self, prompt_template: str, n_examples: int, seed: int, round_no: int = 0
    ) -> Lesson:
        """Describe the task in words after reading ``n_examples`` private examples (SPEC §3.3)."""
        rng = random.Random(seed)
        shown = rng.sample(list(self.__pool), min(n_examples, len(self.__pool)))
        prompt = prompt_template.format(examples=self._task.render_many(shown).rstrip())
        instruction = ""
        for attempt in range(3):
            params = GenerationParams(
                max_tokens=160,
                temperature=0.7,
                stop=("\n\n\n",),
                seed=attempt_seed(seed, attempt),
            )
            [completion] = self.model.generate([prompt], params)
            self.stats.tokens += completion.n_tokens
            text = completion.text.strip()
            # The same filters as for examples: an instruction may quote a private example too.
            reason = self._reject_reason(Example({}, text), text, prompt)
            if reason is None:
                instruction = text
                break
            self.stats.rejected += 1
            self.transcript.record(round_no, self.teacher_id, self.teacher_id, "rejection", reason)
        return Lesson(
            teacher_id=self.teacher_id,
            method="synthetic_instruction",
            instruction=instruction,
            params={"n_examples": len(shown), "temperature": 0.7},
        )

    def original_examples(self, n: int, seed: int) -> Lesson:
        """The leaking baseline: ``n`` private examples as they are. Marked ``contains_private``."""
        rng = random.Random(seed)
        forced = list(self.__forced)[:n]
        rest = [e for e in self.__pool if e not in forced]
        chosen = forced + rng.sample(rest, min(n - len(forced), len(rest)))
        rng.shuffle(chosen)
        candidates = tuple(Candidate(e, self.teacher_id, 0.0, self._task.render(e)) for e in chosen)
        return Lesson(self.teacher_id, "original_examples", candidates, contains_private=True)

    # -- voting ----------------------------------------------------------------------------
    # -- differentially private teaching (the policies live in the DP method modules) -------
    def label_votes(self, queries: Sequence[str], shots: int, seed: int) -> list[int]:
        """Per public query, the index of the task label this teacher scores likeliest after
        ``shots`` of its private examples: its votes for private labels."""
        from sociallearn.teaching.methods.private_labels import label_votes

        shown = self._prompt_examples(SynthesisSettings(n_gen=shots), random.Random(seed))
        return label_votes(self._task, self.model, shown, queries)

    def next_token_distribution(
        self, partial: str, candidates: Sequence[str], label: str | None, shots: int, seed: int
    ) -> dict[str, float]:
        """This teacher's probabilities of the candidate tokens after ``shots`` of its private
        examples (of ``label`` first) and the public partial example: for private generation."""
        from sociallearn.teaching.methods.private_generation import (
            next_token_distribution,
            shots_for,
        )

        every = self._prompt_examples(SynthesisSettings(n_gen=self.silo_size), random.Random(seed))
        shown = shots_for(self._task, every, label, shots)
        prompt = self._task.render_many(shown) + partial
        return next_token_distribution(self.model, prompt, candidates)

    def vote(self, candidates: Sequence[Candidate]) -> int:
        """Index of the candidate most likely after this teacher's held-out examples, per token."""
        evidence = self.__evidence
        context = self._task.render_many(evidence)
        scores = self.model.score(
            [ScoreRequest(context, c.text + self._task.separator) for c in candidates]
        )
        return max(range(len(scores)), key=lambda i: scores[i].mean_logprob)

    def vote_instruction(self, instructions: Sequence[str]) -> int:
        """Index of the instruction under which this teacher's held-out answers are likeliest."""
        task = self._task
        evidence = self.__evidence
        requests = [
            ScoreRequest(
                (text.strip() + task.separator if text.strip() else "") + task.render_query(e),
                task.render_target(e),
            )
            for text in instructions
            for e in evidence
        ]
        scores = self.model.score(requests)
        per = len(evidence)
        totals = [
            sum(s.logprob_sum for s in scores[i * per : (i + 1) * per])
            for i in range(len(instructions))
        ]
        return max(range(len(instructions)), key=lambda i: totals[i])

    # -- feedback --------------------------------------------------------------------------
    def evaluate_and_revise(
        self, request: EvaluateAndRevise, student_model: LanguageModel, round_no: int
    ) -> Lesson:
        """Evaluate the public prompt on the held-out examples with the student's model (inside
        this teacher's trust domain), then write examples from the ones it got wrong.

        Only the held-out accuracy and screened candidates leave the teacher; which examples
        failed does not.
        """
        evidence = list(self.__evidence)
        student = Student(student_model, self._task, calibrate=request.calibrate)
        student.prompt = request.prompt
        predictions = student.answer(evidence, mode=request.answer_mode)
        accuracy = sum(p.correct for p in predictions) / len(predictions) if predictions else 0.0
        report = {"heldout_accuracy": accuracy, "heldout_items": float(len(predictions))}
        if not request.write:
            return Lesson(self.teacher_id, "feedback", report=report)
        rng = random.Random(request.seed)
        failed = [e for e, p in zip(evidence, predictions, strict=True) if not p.correct]
        n_gen = request.settings.n_gen
        shown = rng.sample(failed, min(n_gen, len(failed)))
        # Too few failures for a full prompt: fill it with other private examples.
        rest = [e for e in self.__pool if e not in shown]
        shown += rng.sample(rest, max(0, min(n_gen - len(shown), len(rest))))
        rng.shuffle(shown)
        candidates = self._write_examples(shown, request.settings, round_no, request.seed)
        return Lesson(self.teacher_id, "feedback", candidates, report=report)
