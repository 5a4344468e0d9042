"""How much of the private data a lesson repeats (SPEC §4.5): copies, edit distance, shared n-grams.

The normalised distance of a generated example ``g`` from its generation prompt ``p`` is

    min over substrings s = p[i:j] of Indel(g, s) / len(g),

where Indel is the edit distance with insertions and deletions only (a substitution costs 2). The
empty substring is allowed, so the value is at most 1. It is a semi-global alignment: ``g`` is
aligned in full, the prompt's ends are free.

No rapidfuzz primitive computes this exactly: ``fuzz.partial_ratio`` only tries windows as long as
``g``, which misses better, longer substrings (``"ab"`` vs ``"aXb"``: best window distance 2, true
distance 1). So :func:`substring_distance` runs the alignment itself, one numpy-vectorised row per
character of ``g`` (a few milliseconds for a 200-character example in a 3,000-character prompt).
The tests check it against a brute force over every substring with rapidfuzz's ``Indel``, and the
gate uses two rapidfuzz lower bounds to skip pairs that cannot be close (see
:func:`indel_lower_bound` and :func:`window_lower_bound`).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

_WORD = re.compile(r"\w+")


def normalize_whitespace(text: str) -> str:
    """Collapse every run of whitespace to one space and strip the ends."""
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """Lower-cased word tokens, punctuation dropped: the units of word n-grams."""
    return _WORD.findall(text.casefold())


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def substring_distance(text: str, within: str) -> int:
    """Fewest insertions and deletions turning ``text`` into some substring of ``within``."""
    if not text or text in within:
        return 0
    g = _codes(text)
    p = _codes(within)
    m = p.size
    offsets = np.arange(m + 1, dtype=np.int64)
    # Row a holds, for each end position j, the best distance of text[:a] to a substring ending
    # at j. Row 0 is all zeros: the empty substring may start anywhere.
    prev = np.zeros(m + 1, dtype=np.int64)
    diagonal = np.empty(m + 1, dtype=np.int64)
    for a, char in enumerate(g, start=1):
        # Either text[a-1] is deleted (from above) or it matches within[j-1] (diagonal) ...
        diagonal[0] = a
        diagonal[1:] = np.where(p == char, prev[:-1], prev[1:] + 1)
        best = np.minimum(prev + 1, diagonal)
        best[0] = a
        # ... then any number of prompt characters may be inserted, at +1 each: a running
        # minimum of best[k] + (j - k) over k <= j.
        prev = np.minimum.accumulate(best - offsets) + offsets
    return int(prev.min())


def normalized_distance(generated: str, prompt: str) -> float:
    """:func:`substring_distance` divided by ``len(generated)``, in ``[0, 1]``.

    0 means ``generated`` occurs verbatim in ``prompt``; 1 means no character could be aligned.
    An empty ``generated`` gives 0.0.
    """
    if not generated:
        return 0.0
    return min(1.0, substring_distance(generated, prompt) / len(generated))


def indel_lower_bound(lcs: int, text_length: int) -> float:
    """A floor on :func:`normalized_distance` from the LCS of ``text`` and the whole other string.

    Any substring ``s`` has ``Indel(text, s) >= len(text) - LCS(text, s) >= len(text) - lcs``,
    so ``1 - lcs / len(text)`` bounds the normalised distance from below. rapidfuzz computes the
    LCS of many pairs at once, which lets a caller skip the exact alignment for most pairs.
    """
    if text_length == 0:
        return 0.0
    return max(0.0, 1.0 - lcs / text_length)


def window_lower_bound(shorter: str, longer: str) -> float:
    """A tighter floor on :func:`normalized_distance` ``(shorter, longer)``, from rapidfuzz.

    ``fuzz.partial_ratio`` scores the best window of ``longer`` as long as ``shorter``:
    ``1 - ratio / 100 = W / (2 * len(shorter))`` with W that window's Indel distance. An optimal
    substring of any length is within (or contains) such a window, and moving to the window costs
    at most the alignment's own gaps, so ``W <= 2 * substring_distance`` and this value never
    exceeds the true normalised distance. Requires ``len(shorter) <= len(longer)``.
    """
    from rapidfuzz import fuzz

    if not shorter:
        return 0.0
    return max(0.0, 1.0 - fuzz.partial_ratio(shorter, longer) / 100.0)


def is_copy(generated: str, private_normalized: set[str]) -> bool:
    return normalize_whitespace(generated) in private_normalized


def copy_rate(generated: Sequence[str], private: Sequence[str]) -> float:
    """Share of ``generated`` texts equal to some private text, after whitespace normalisation.

    NaN when nothing was generated.
    """
    if not generated:
        return float("nan")
    known = {normalize_whitespace(t) for t in private}
    return sum(1 for g in generated if is_copy(g, known)) / len(generated)


def longest_common_ngram(a: str, b: str) -> int:
    """Length, in words, of the longest run of consecutive words shared by ``a`` and ``b``.

    Words are compared lower-cased and without punctuation (see :func:`words`).
    """
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0
    matcher = SequenceMatcher(None, wa, wb, autojunk=False)
    return matcher.find_longest_match(0, len(wa), 0, len(wb)).size


@dataclass(frozen=True)
class LeakageReport:
    """Leakage figures for one set of generated examples (one task and n, say)."""

    n_generated: int
    n_copies: int
    copy_rate: float
    mean_distance: float
    median_distance: float
    distances: tuple[float, ...]


def leakage_report(
    generated: Sequence[str], private: Sequence[str], prompts: str | Sequence[str]
) -> LeakageReport:
    """Copy rate against ``private`` and each example's distance from its generation prompt.

    ``prompts`` is one prompt shared by all generated texts, or one prompt per generated text.
    Mean and median are NaN when nothing was generated.
    """
    if isinstance(prompts, str):
        prompt_list = [prompts] * len(generated)
    else:
        prompt_list = list(prompts)
        if len(prompt_list) != len(generated):
            raise ValueError(f"{len(generated)} generated texts but {len(prompt_list)} prompts")
    pairs = zip(generated, prompt_list, strict=True)
    distances = tuple(normalized_distance(g, p) for g, p in pairs)
    known = {normalize_whitespace(t) for t in private}
    n_copies = sum(1 for g in generated if is_copy(g, known))
    nan = float("nan")
    return LeakageReport(
        n_generated=len(generated),
        n_copies=n_copies,
        copy_rate=n_copies / len(generated) if generated else nan,
        mean_distance=statistics.fmean(distances) if distances else nan,
        median_distance=statistics.median(distances) if distances else nan,
        distances=distances,
    )
