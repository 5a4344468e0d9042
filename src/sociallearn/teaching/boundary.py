"""The privacy boundary: everything that can reach the student passes through this module.

Open this file to see the whole privacy contract of sociallearn.

Roles
    * **teachers** hold private silos. Their own policies (writing examples or an instruction,
      the leakage gate, voting, evaluating a public prompt on held-out examples) run inside
      :class:`~sociallearn.teaching.teacher.Teacher`; only :class:`Lesson` values, vote indices
      and the held-out accuracy of a *public* prompt come out.
    * the **aggregator** chooses among what teachers wrote. With ``aggregation: student`` (the
      paper's protocol) the student is the aggregator: it receives every candidate and chooses.
      With ``aggregation: trusted`` a trusted aggregator sits between teachers and student and
      only what it selects is released to the student (what a differentially private vote needs).
    * the **student** holds no data; it is given a prompt, built by :meth:`Boundary.present` from
      what was released, and answers queries behind it.

Methods and aggregators never hold a ``Teacher``: methods describe what to ask (:class:`Ask`),
aggregators get candidate texts and a ``votes`` function that asks teachers through here.
Every message is recorded in the transcript with sender and recipient.

The audit (:meth:`Boundary.audit`) checks the student's *final rendered prompt* — whatever built
it — against every silo (exact and near copies of private examples, planted canary secrets).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sociallearn.models.base import GenerationParams, LanguageModel
from sociallearn.privacy.leakage import normalize_whitespace
from sociallearn.seeds import mix_seed
from sociallearn.tasks.base import Example, Task
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.filters import CandidateFilter
from sociallearn.teaching.lesson import Candidate, Lesson
from sociallearn.teaching.student import Student
from sociallearn.teaching.teacher import (
    EvaluateAndRevise,
    GenerationStats,
    ShareOriginals,
    Teacher,
    TeacherRequest,
    WriteExamples,
    WriteInstruction,
)
from sociallearn.teaching.transcript import AGGREGATOR, STUDENT, Transcript

Aggregation = Literal["student", "trusted"]

# A prompt block this close to a private example (normalised Indel distance, 0 = identical)
# is counted as a near copy by the audit.
NEAR_COPY_DISTANCE = 0.1


@dataclass(frozen=True)
class Ask:
    """What a method asks in one round: which teachers, and a request for each of them."""

    text: str  # the request as sent (recorded in the transcript)
    teachers: tuple[int, ...]
    requests: tuple[TeacherRequest, ...]


@dataclass(frozen=True)
class Answer:
    """One teacher's answer as it left the teacher (already screened by its gate)."""

    teacher: int
    lesson: Lesson


@dataclass(frozen=True)
class ReleaseAudit:
    """What of the silos is in the student's final prompt."""

    private_examples: int  # prompt blocks identical (whitespace aside) to a private example
    near_copies: int  # other prompt blocks within NEAR_COPY_DISTANCE of a private example
    canaries: int  # planted canaries whose secrets all appear in the prompt


@dataclass
class _Planted:
    example: Example
    secrets: tuple[str, ...]


@dataclass
class _Silos:
    """The experimenter's view of every silo, for the audit only; no agent can reach it."""

    texts: set[str] = field(default_factory=set)
    planted: list[_Planted] = field(default_factory=list)


class Boundary:
    """The only way text goes from teachers to the student, with the audit of what went."""

    def __init__(
        self,
        task: Task,
        teachers: Sequence[Teacher],
        transcript: Transcript,
        *,
        aggregation: Aggregation = "student",
        student_model: LanguageModel | None = None,
    ) -> None:
        self.task = task
        self.transcript = transcript
        self.aggregation: Aggregation = aggregation
        self.__teachers = tuple(teachers)
        # The student's model, lent to teachers to evaluate a public prompt inside their own
        # trust domain, and used by the aggregator to merge texts.
        self.__student_model = student_model
        self.__silos = _Silos()
        for teacher in self.__teachers:
            self.__silos.texts.update(teacher.silo_fingerprints())

    # -- roles -----------------------------------------------------------------------------
    @property
    def n_teachers(self) -> int:
        return len(self.__teachers)

    @property
    def aggregator_role(self) -> str:
        """Who asks teachers and chooses among their answers."""
        return STUDENT if self.aggregation == "student" else AGGREGATOR

    def teacher_id(self, index: int) -> str:
        return self.__teachers[index].teacher_id

    @property
    def aggregator_model(self) -> LanguageModel:
        if self.__student_model is None:
            raise RuntimeError("this boundary was built without the student's model")
        return self.__student_model

    # -- setting up the silos (the experimenter, before teaching) --------------------------
    def gate(self, filters: Sequence[CandidateFilter]) -> None:
        """Install privacy filters in every teacher: they screen its answers before sending."""
        for teacher in self.__teachers:
            for candidate_filter in filters:
                teacher.add_filter(candidate_filter)

    def plant(
        self,
        example: Example,
        secrets: Sequence[str],
        copies: int = 1,
        force: bool = False,
        silos: Sequence[int] | None = None,
    ) -> None:
        """Plant a canary in every silo (or in the teachers ``silos`` name) for the privacy
        audit; the audit looks for its secrets."""
        for i, teacher in enumerate(self.__teachers):
            if silos is None or i in silos:
                teacher.plant(example, copies=copies, force=force)
        self.__silos.texts.add(normalize_whitespace(self.task.render(example)))
        self.__silos.planted.append(_Planted(example, tuple(secrets)))

    def stats(self) -> GenerationStats:
        """Counts of what the teachers generated, screened and rejected (no private text)."""
        return GenerationStats.merge(t.stats for t in self.__teachers)

    # -- a round ---------------------------------------------------------------------------
    def ask(self, round_no: int, ask: Ask) -> list[Answer]:
        """Send the request to each asked teacher and collect its (gated) answer."""
        asker = self.aggregator_role
        answers: list[Answer] = []
        for index, request in zip(ask.teachers, ask.requests, strict=True):
            teacher = self.__teachers[index]
            self.transcript.record(round_no, asker, teacher.teacher_id, "request", ask.text)
            lesson = self._answer(teacher, request, round_no)
            body = lesson.instruction or "\n\n".join(c.text for c in lesson.candidates)
            if body or not lesson.report:
                self.transcript.record(round_no, teacher.teacher_id, asker, "lesson", body)
            if lesson.report:
                summary = ", ".join(f"{k} {v:.4g}" for k, v in sorted(lesson.report.items()))
                self.transcript.record(round_no, teacher.teacher_id, asker, "report", summary)
            answers.append(Answer(index, lesson))
        return answers

    def _answer(self, teacher: Teacher, request: TeacherRequest, round_no: int) -> Lesson:
        if isinstance(request, WriteExamples):
            return teacher.synthesize_examples(request.settings, round_no, request.seed)
        if isinstance(request, WriteInstruction):
            return teacher.write_instruction(
                request.prompt_template, request.n_examples, request.seed, round_no
            )
        if isinstance(request, ShareOriginals):
            return teacher.original_examples(request.n, request.seed)
        if isinstance(request, EvaluateAndRevise):
            return teacher.evaluate_and_revise(request, self.aggregator_model, round_no)
        raise TypeError(f"unknown teacher request {type(request).__name__}")

    def votes(self, round_no: int, candidates: Sequence[Candidate]) -> list[int]:
        """Every teacher's vote: the candidate most likely after its held-out examples."""
        listing = "\n\n".join(f"[{i}] {c.text}" for i, c in enumerate(candidates))
        return self._poll(round_no, listing, lambda t: t.vote(candidates))

    def instruction_votes(self, round_no: int, instructions: Sequence[str]) -> list[int]:
        """Every teacher's vote: the instruction under which its held-out answers are likeliest."""
        listing = "\n\n".join(f"[{i}] {text}" for i, text in enumerate(instructions))
        return self._poll(round_no, listing, lambda t: t.vote_instruction(instructions))

    def _poll(self, round_no: int, listing: str, vote: Callable[[Teacher], int]) -> list[int]:
        asker = self.aggregator_role
        choices: list[int] = []
        for teacher in self.__teachers:
            self.transcript.record(round_no, asker, teacher.teacher_id, "candidates", listing)
            choice = vote(teacher)
            self.transcript.record(round_no, teacher.teacher_id, asker, "vote", str(choice))
            choices.append(choice)
        return choices

    # -- differentially private teaching: teachers answer the trusted aggregator only -----
    def _trusted_only(self, what: str) -> str:
        if self.aggregation != "trusted":
            raise RuntimeError(f"{what} go to a trusted aggregator only (aggregation: trusted)")
        return AGGREGATOR

    def label_votes(
        self, round_no: int, queries: Sequence[str], shots: int, seed: int
    ) -> list[list[int]]:
        """Every teacher's label votes (one label index per public query), from a few-shot
        prompt of its private examples. The aggregator must release only a noisy vote."""
        asker = self._trusted_only("label votes")
        listing = "\n\n".join(queries)
        out: list[list[int]] = []
        for i, teacher in enumerate(self.__teachers):
            self.transcript.record(round_no, asker, teacher.teacher_id, "request", listing)
            votes = teacher.label_votes(queries, shots, mix_seed(seed, i))
            self.transcript.record(
                round_no, teacher.teacher_id, asker, "vote", " ".join(map(str, votes))
            )
            out.append(votes)
        return out

    def next_token_distributions(
        self,
        round_no: int,
        partial: str,
        candidates: Sequence[str],
        label: str | None,
        shots: int,
        seed: int,
    ) -> list[dict[str, float]]:
        """Every teacher's probabilities of the candidate tokens after its private few-shot
        prompt and the public ``partial`` example. The aggregator must release only a noisy
        choice."""
        asker = self._trusted_only("next-token distributions")
        out: list[dict[str, float]] = []
        for i, teacher in enumerate(self.__teachers):
            self.transcript.record(round_no, asker, teacher.teacher_id, "request", partial)
            dist = teacher.next_token_distribution(partial, candidates, label, shots, seed + i)
            top = sorted(dist.items(), key=lambda kv: -kv[1])[:3]
            summary = ", ".join(f"{t!r} {p:.3f}" for t, p in top)
            self.transcript.record(round_no, teacher.teacher_id, asker, "report", summary)
            out.append(dist)
        return out

    def public_texts(
        self, round_no: int, prompts: Sequence[str], params: GenerationParams
    ) -> list[str]:
        """The aggregator's model continues public prompts (no private data in them)."""
        completions = self.aggregator_model.generate(list(prompts), params)
        return [c.text for c in completions]

    def public_next_tokens(self, round_no: int, prompt: str, top: int) -> list[str]:
        """The ``top`` likeliest next tokens of a public prompt on the aggregator's model."""
        from sociallearn.models.base import next_token_model

        model = next_token_model(self.aggregator_model, "public candidate tokens")
        [dist] = model.next_token_logprobs([prompt], top=top)
        return list(dict.fromkeys(dist.tokens))

    def summarize(self, round_no: int, prompt: str, seed: int) -> str:
        """The aggregator's model writes one text from ``prompt`` (e.g. merging instructions).

        Its input holds only texts that already left teachers through their gates.
        """
        from sociallearn.models.base import GenerationParams

        params = GenerationParams(max_tokens=200, temperature=0.0, stop=("\n\n\n",), seed=seed)
        [completion] = self.aggregator_model.generate([prompt], params)
        return completion.text.strip()

    def release(
        self,
        round_no: int,
        candidates: Sequence[Candidate] = (),
        instruction: str | None = None,
    ) -> None:
        """Release the aggregator's selection to the student.

        Under student aggregation the student already received every candidate (and chose), so
        nothing new crosses; under trusted aggregation this is the only message the student gets.
        """
        if self.aggregation == "trusted" and (candidates or instruction):
            body = instruction or "\n\n".join(c.text for c in candidates)
            self.transcript.record(round_no, AGGREGATOR, STUDENT, "release", body)

    # -- the student's prompt, and its audit -----------------------------------------------
    def present(self, student: Student, curriculum: Curriculum) -> str:
        """Give the student its learned prompt (recorded) and return it."""
        prompt = student.learn(curriculum)
        self.transcript.record(0, STUDENT, STUDENT, "prompt", prompt)
        return prompt

    def audit(self, prompt: str) -> ReleaseAudit:
        """Exact and near copies of private examples, and planted canaries, in ``prompt``."""
        from rapidfuzz import fuzz, process

        texts = self.__silos.texts
        choices = list(texts)
        exact = near = 0
        for block in prompt.split(self.task.separator):
            key = normalize_whitespace(block)
            if not key:
                continue
            if key in texts:
                exact += 1
                continue
            best = process.extractOne(key, choices, scorer=fuzz.ratio) if choices else None
            if best is not None and 1.0 - best[1] / 100.0 < NEAR_COPY_DISTANCE:
                near += 1
        canaries = sum(
            1 for p in self.__silos.planted if p.secrets and all(s in prompt for s in p.secrets)
        )
        return ReleaseAudit(exact, near, canaries)

    def private_blocks_to_student(self) -> int:
        """Blocks of messages addressed to the student that are verbatim private examples."""
        count = 0
        for message in self.transcript.to_student():
            if message.sender == STUDENT:
                continue  # the learned prompt it wrote itself; audited by :meth:`audit`
            for block in message.text.split(self.task.separator):
                if normalize_whitespace(block) in self.__silos.texts:
                    count += 1
        return count
