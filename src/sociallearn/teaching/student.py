"""The student: a model plus the learned prompt, answering queries behind that prompt."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from sociallearn.errors import ConfigError
from sociallearn.models.base import GenerationParams, LanguageModel, ScoreRequest
from sociallearn.tasks.base import Example, Task
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.prompting import content_free_example, label_continuation, query_prompt

AnswerMode = Literal["generate", "score"]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Prediction:
    uid: str
    completion: str
    answer: str | None
    gold: str | None
    correct: bool


class Student:
    """Holds no data. ``learn`` sets the prompt; ``answer`` appends each query to it.

    The learned prompt is one shared prefix for every query, so backends that reuse a prefix's KV
    state evaluate it only once.
    """

    def __init__(self, model: LanguageModel, task: Task, calibrate: bool = False) -> None:
        self.model = model
        self.task = task
        self.prompt = ""
        # Contextual calibration (Zhao et al. 2021) for label scoring: subtract each label's
        # log-prob after a content-free input, which removes the prompt's prior label bias.
        self.calibrate = calibrate
        self._bias: list[float] | None = None

    def learn(self, curriculum: Curriculum) -> str:
        self.prompt = curriculum.render(self.task)
        self._bias = None
        return self.prompt

    def answer(
        self,
        items: Sequence[Example],
        mode: AnswerMode = "generate",
        batch_size: int = 16,
        progress: Progress | None = None,
    ) -> list[Prediction]:
        out: list[Prediction] = []
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            completions = self._generate(batch) if mode == "generate" else self._score(batch)
            for ex, completion in zip(batch, completions, strict=True):
                answer = self.task.parse_answer(completion)
                gold = self.task.gold(ex)
                out.append(
                    Prediction(
                        ex.uid, completion, answer, gold, self.task.parser.same(answer, gold)
                    )
                )
            if progress:
                progress(len(batch))
        return out

    def _generate(self, batch: Sequence[Example]) -> list[str]:
        params = GenerationParams(
            max_tokens=self.task.answer_max_tokens, temperature=0.0, stop=self.task.stop_sequences()
        )
        prompts = [query_prompt(self.prompt, self.task, ex) for ex in batch]
        return [c.text for c in self.model.generate(prompts, params)]

    def _score(self, batch: Sequence[Example]) -> list[str]:
        labels = self.task.labels
        if not labels:
            raise ConfigError(
                f"answer_mode: 'score' needs a task with a label set; {self.task.name!r} has none "
                "(use answer_mode: generate)"
            )
        scores = [s.logprob_sum for s in self.model.score(self._label_requests(batch))]
        bias = self._label_bias() if self.calibrate else [0.0] * len(labels)
        answers: list[str] = []
        for i in range(len(batch)):
            options = scores[i * len(labels) : (i + 1) * len(labels)]
            best = max(range(len(labels)), key=lambda j: options[j] - bias[j])
            answers.append(labels[best])
        return answers

    def _label_requests(self, batch: Sequence[Example]) -> list[ScoreRequest]:
        return [
            ScoreRequest(
                query_prompt(self.prompt, self.task, ex), label_continuation(self.task, label)
            )
            for ex in batch
            for label in self.task.labels
        ]

    def _label_bias(self) -> list[float]:
        if self._bias is None:
            requests = self._label_requests([content_free_example(self.task)])
            self._bias = [s.logprob_sum for s in self.model.score(requests)]
        return self._bias
