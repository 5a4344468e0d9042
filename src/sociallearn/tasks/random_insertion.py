"""A seeded generator for the GPT-3 "random insertion in word" task.

The real test file (10,000 rows) defines the task: a lower-case alphabetic word of 6 to 15 letters
with exactly one character from `` ./!`` (space, full stop, slash, exclamation mark, uniformly)
inserted between each pair of adjacent letters; nothing before the first or after the last letter.
The target is the original word. Words come from ``wordfreq``'s English list, so silos and test
sets can be any size up to the number of distinct eligible words.
"""

from __future__ import annotations

import random
from functools import lru_cache

from sociallearn.errors import DataError
from sociallearn.tasks.base import Example

INSERTED_CHARS = " ./!"
MIN_LETTERS = 6
MAX_LETTERS = 15
# The top 30,000 English words hold about 20,800 eligible ones: common enough to be real words,
# enough for any silo size the paper's setting needs.
WORDLIST_SIZE = 30_000


def scramble(word: str, rng: random.Random) -> str:
    """Insert one random character from :data:`INSERTED_CHARS` between each pair of letters."""
    out = [word[0]]
    for letter in word[1:]:
        out.append(rng.choice(INSERTED_CHARS))
        out.append(letter)
    return "".join(out)


def unscramble(text: str) -> str:
    """The original word: every inserted character removed."""
    return "".join(ch for ch in text if ch not in INSERTED_CHARS)


@lru_cache(maxsize=1)
def eligible_words() -> tuple[str, ...]:
    """Distinct lower-case ASCII alphabetic words of 6-15 letters, most frequent first."""
    try:
        from wordfreq import top_n_list
    except ImportError:
        raise DataError(
            "random_insertion: the word list needs the 'wordfreq' package (pip install wordfreq), "
            "or give the real data with --data-dir / SOCIALLEARN_DATA_DIR"
        ) from None
    words = top_n_list("en", WORDLIST_SIZE)
    keep = (
        w
        for w in words
        if w.isascii() and w.isalpha() and w.islower() and MIN_LETTERS <= len(w) <= MAX_LETTERS
    )
    return tuple(dict.fromkeys(keep))


def generate_random_insertion(n: int, seed: int = 0) -> list[Example]:
    """``n`` items with distinct target words, the same for the same ``(n, seed)``."""
    words = eligible_words()
    if n < 0:
        raise ValueError("n must be >= 0")
    if n > len(words):
        raise DataError(
            f"random_insertion: cannot generate {n} items; the word list has {len(words)} "
            "distinct eligible words"
        )
    rng = random.Random(f"random_insertion:{seed}")
    chosen = rng.sample(words, n)
    return [
        Example(
            fields={"scrambled": scramble(w, rng)}, target=w, uid=f"random_insertion:gen{seed}:{i}"
        )
        for i, w in enumerate(chosen)
    ]
