"""The leakage gate: a teacher-side filter that stops candidates repeating private data.

It implements :class:`~sociallearn.teaching.filters.CandidateFilter`. A candidate is rejected when

1. it contains a planted canary secret (a code or name given at construction);
2. it is a verbatim copy of a private example (after whitespace normalisation);
3. it shares a run of ``max_ngram`` or more consecutive words with a private example;
4. its normalised substring distance to a private example is below ``min_distance``.

Examples are compared by their *content* (field values, plus the target when it is more than a
label; see :func:`example_content`), not their rendering, so the task template's fixed wording,
which every example shares, does not make unrelated examples look alike. For check 4 the shorter
text is searched inside the longer one and normalised by its own length, so both a near-copy and
a candidate that embeds a whole private example are caught; pairs whose shorter text has fewer
than ``min_chars`` characters are left to checks 2 and 3, since a short phrase ("Ok, see you")
fits inside almost anything.

Why 0.25 by default: changing a few words of a 100-character example gives a distance near
0.05–0.15, while newly written examples sit far higher (the paper's Table 6 medians are 0.43–0.85).
On the real SMS data, of 232,323 pairs of distinct messages (shorter text at least 20
characters) only 18 fall below 0.25, and those are templated spam variants or containments such as
"Sorry, I'll call later" inside a longer message: exactly what should not be shared. A quarter of
the characters having to change is a clear line between "edited copy" and "new example".

Speed: per silo (identified by the identity of its example objects) the contents, their
n-grams and a normalised-text set are computed once. Per candidate, rapidfuzz's bit-parallel LCS
against every private content gives a lower bound on the distance
(:func:`~sociallearn.privacy.leakage.indel_lower_bound`); pairs under the threshold then get
rapidfuzz's best-window bound (:func:`~sociallearn.privacy.leakage.window_lower_bound`), and only
pairs still under it get the exact alignment.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sociallearn.privacy.canaries import CanarySet, secret_pattern
from sociallearn.privacy.leakage import (
    indel_lower_bound,
    longest_common_ngram,
    normalize_whitespace,
    normalized_distance,
    window_lower_bound,
    words,
)
from sociallearn.tasks.base import Example

_CACHE_SIZE = 32
# Targets of at most this many words are labels or cloze answers, not private content.
_LABEL_WORDS = 3


def example_content(example: Example) -> str:
    """The part of an example that is private: its field values, one per line, and its target
    when the target is longer than a few words (a worked solution, not a label).

    Labels and cloze words are shared by many examples, so including them would make unrelated
    short examples look alike. An example with no fields (a canary that does not parse into the
    task's format) uses its verbatim text.
    """
    if not example.fields and example.verbatim is not None:
        return example.verbatim
    parts = list(example.fields.values())
    if len(example.target.split()) > _LABEL_WORDS:
        parts.append(example.target)
    return "\n".join(parts)


@dataclass(frozen=True)
class _Silo:
    contents: tuple[str, ...]
    normalized: frozenset[str]
    ngrams: dict[tuple[str, ...], int]


def _ngrams(tokens: list[str], n: int) -> Iterable[tuple[str, ...]]:
    return (tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


class LeakageGate:
    """Rejects candidates that leak a teacher's private examples or planted canaries.

    Args:
        secrets: canary secret values to block (codes, products, names); see :meth:`for_canaries`.
        min_distance: reject below this normalised substring distance (0 disables the check).
        max_ngram: reject when this many consecutive words are shared (0 disables the check).
        min_chars: shortest text the distance check applies to.

    Example::

        gate = LeakageGate.for_canaries([canary_set])
        reason = gate.reject_reason(candidate, task.render(candidate), silo, prompt)
    """

    name = "leakage_gate"

    def __init__(
        self,
        secrets: Sequence[str] = (),
        min_distance: float = 0.25,
        max_ngram: int = 8,
        min_chars: int = 20,
    ) -> None:
        if not 0.0 <= min_distance <= 1.0:
            raise ValueError(f"min_distance must be within [0, 1], got {min_distance}")
        if max_ngram < 0:
            raise ValueError(f"max_ngram must be non-negative, got {max_ngram}")
        self.secrets = tuple(secrets)
        self.min_distance = min_distance
        self.max_ngram = max_ngram
        self.min_chars = min_chars
        self._secret_re = secret_pattern(self.secrets) if self.secrets else None
        self._silos: OrderedDict[tuple[int, int], tuple[tuple[Example, ...], _Silo]] = OrderedDict()

    @classmethod
    def for_canaries(
        cls,
        canary_sets: Iterable[CanarySet],
        min_distance: float = 0.25,
        max_ngram: int = 8,
        min_chars: int = 20,
    ) -> LeakageGate:
        """A gate blocking every slot value of the given planted canaries (never the references)."""
        secrets = [value for cs in canary_sets for value in cs.secrets]
        return cls(secrets, min_distance=min_distance, max_ngram=max_ngram, min_chars=min_chars)

    # -- the CandidateFilter protocol ---------------------------------------------------------
    def reject_reason(
        self,
        candidate: Example,
        rendered: str,
        private: Sequence[Example],
        prompt: str,
    ) -> str | None:
        """Why ``candidate`` must not be shared, or None. The reason names no private text.

        ``prompt`` is not used: everything private in it is also in ``private``.
        """
        if self._secret_re is not None:
            found = self._secret_re.search(rendered) or self._secret_re.search(
                example_content(candidate)
            )
            if found:
                return f"contains the planted canary secret {found.group(0)!r}"
        silo = self._silo(private)
        content = normalize_whitespace(example_content(candidate))
        if content in silo.normalized:
            return "copies a private example verbatim"
        reason = self._ngram_reason(content, silo)
        if reason is None:
            reason = self._distance_reason(content, silo)
        return reason

    # -- checks -------------------------------------------------------------------------------
    def _ngram_reason(self, content: str, silo: _Silo) -> str | None:
        if self.max_ngram <= 0:
            return None
        for gram in _ngrams(words(content), self.max_ngram):
            index = silo.ngrams.get(gram)
            if index is not None:
                size = longest_common_ngram(content, silo.contents[index])
                return f"shares a {size}-word passage with a private example"
        return None

    def _distance_reason(self, content: str, silo: _Silo) -> str | None:
        if self.min_distance <= 0.0 or not silo.contents:
            return None
        from rapidfuzz import process
        from rapidfuzz.distance import LCSseq

        lcs = process.cdist([content], silo.contents, scorer=LCSseq.similarity, workers=1)[0]
        candidates: list[tuple[float, int]] = []
        for index, private in enumerate(silo.contents):
            shortest = min(len(content), len(private))
            if shortest < self.min_chars:
                continue
            bound = indel_lower_bound(int(lcs[index]), shortest)
            if bound < self.min_distance:
                candidates.append((bound, index))
        # Most promising pairs first: the first hit is usually the closest example.
        for _, index in sorted(candidates):
            private = silo.contents[index]
            shorter, longer = (
                (content, private) if len(content) <= len(private) else (private, content)
            )
            if window_lower_bound(shorter, longer) >= self.min_distance:
                continue
            distance = normalized_distance(shorter, longer)
            if distance < self.min_distance:
                return (
                    f"too close to a private example (distance {distance:.2f} < "
                    f"{self.min_distance:.2f})"
                )
        return None

    # -- per-silo preparation -----------------------------------------------------------------
    def _silo(self, private: Sequence[Example]) -> _Silo:
        key = (len(private), id(private[0]) if private else 0)
        cached = self._silos.get(key)
        # Holding the examples keeps their ids from being reused, so identity means "same silo".
        if cached is not None and all(a is b for a, b in zip(cached[0], private, strict=True)):
            self._silos.move_to_end(key)
            return cached[1]
        silo = self._prepare(private)
        self._silos[key] = (tuple(private), silo)
        if len(self._silos) > _CACHE_SIZE:
            self._silos.popitem(last=False)
        return silo

    def _prepare(self, private: Sequence[Example]) -> _Silo:
        contents = tuple(normalize_whitespace(example_content(e)) for e in private)
        ngrams: dict[tuple[str, ...], int] = {}
        if self.max_ngram > 0:
            for index, text in enumerate(contents):
                for gram in _ngrams(words(text), self.max_ngram):
                    ngrams.setdefault(gram, index)
        return _Silo(contents=contents, normalized=frozenset(contents), ngrams=ngrams)
