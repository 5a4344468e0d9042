"""Leakage of lessons: exact substring distance, copy rate, shared n-grams."""

from __future__ import annotations

import math
import random

import pytest
from rapidfuzz.distance import Indel

from sociallearn.privacy import (
    copy_rate,
    leakage_report,
    longest_common_ngram,
    normalized_distance,
    substring_distance,
)
from sociallearn.privacy.leakage import indel_lower_bound, window_lower_bound


def brute_force(text: str, within: str) -> int:
    """Indel distance to every substring within[i:j], the empty one included."""
    best = len(text)
    for i in range(len(within) + 1):
        for j in range(i, len(within) + 1):
            best = min(best, Indel.distance(text, within[i:j]))
    return best


def test_substring_distance_equals_brute_force_on_random_small_strings() -> None:
    rng = random.Random(2024)
    for _ in range(1500):
        text = "".join(rng.choice("abc") for _ in range(rng.randint(0, 8)))
        within = "".join(rng.choice("abcd") for _ in range(rng.randint(0, 12)))
        assert substring_distance(text, within) == brute_force(text, within), (text, within)


def test_substring_distance_handles_unicode() -> None:
    assert substring_distance("ünï", "xxünïxx") == 0
    assert substring_distance("£5000", "win £500 now") == brute_force("£5000", "win £500 now") == 1


def test_a_longer_substring_can_beat_every_equal_length_window() -> None:
    # rapidfuzz's partial_ratio only tries windows of len("ab"); the best substring is "aXb".
    assert substring_distance("ab", "zzaXbzz") == 1
    assert normalized_distance("ab", "zzaXbzz") == 0.5


def test_normalized_distance_extremes() -> None:
    assert normalized_distance("hello", "say hello there") == 0.0
    assert normalized_distance("xyz", "abc") == 1.0
    assert normalized_distance("", "abc") == 0.0
    assert normalized_distance("abc", "") == 1.0
    # One substituted character costs a deletion and an insertion.
    assert normalized_distance("call me now", "please call me know") == pytest.approx(1 / 11)


def test_lower_bounds_never_exceed_the_exact_distance() -> None:
    from rapidfuzz.distance import LCSseq

    rng = random.Random(5)
    for _ in range(2000):
        short = "".join(rng.choice("abcd") for _ in range(rng.randint(1, 10)))
        long = "".join(rng.choice("abcde") for _ in range(rng.randint(len(short), 18)))
        exact = normalized_distance(short, long)
        assert window_lower_bound(short, long) <= exact + 1e-12
        assert indel_lower_bound(LCSseq.similarity(short, long), len(short)) <= exact + 1e-12


def test_copy_rate_normalises_whitespace_only() -> None:
    private = ["Free entry  in 2 a wkly comp", "Ok lar... Joking wif u oni..."]
    generated = ["Free entry in 2 a wkly comp", "ok lar... joking wif u oni...", "new text"]
    # The second differs in case, which is not a verbatim copy.
    assert copy_rate(generated, private) == pytest.approx(1 / 3)
    assert math.isnan(copy_rate([], private))


def test_leakage_report_per_prompt() -> None:
    prompt = "Text: Ok lar... Joking wif u oni\nClass: not spam\n\n"
    report = leakage_report(["Ok lar... Joking wif u oni", "Zzz qqq"], [prompt.strip()], prompt)
    assert report.n_generated == 2 and report.n_copies == 0
    assert report.distances[0] == 0.0 and report.distances[1] > 0.5
    assert report.mean_distance == pytest.approx(sum(report.distances) / 2)
    assert report.median_distance == pytest.approx(report.mean_distance)
    with pytest.raises(ValueError, match="prompts"):
        leakage_report(["a"], [], ["p1", "p2"])
    empty = leakage_report([], [], "p")
    assert empty.n_generated == 0 and math.isnan(empty.copy_rate)


def test_longest_common_ngram_counts_consecutive_words() -> None:
    a = "The quick brown fox jumps over the lazy dog"
    b = "a QUICK brown fox, jumps over a lazy cat"
    assert longest_common_ngram(a, b) == 5  # quick brown fox jumps over
    assert longest_common_ngram(a, "") == 0
    assert longest_common_ngram("one two", "three four") == 0
