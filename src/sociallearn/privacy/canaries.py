"""Canary sets (SPEC §5.1–5.2): one planted secret and N_SS − 1 never-planted references.

A :class:`~sociallearn.tasks.base.CanaryTemplate` is a whole example with slots:

* ``{code}``, ``{code2}``: four-digit numbers **1000–9999** (9,000 values; no leading zero, so a
  code reads as a number in arithmetic templates such as GSM8K's);
* ``{product}``: ``code * code2``, for templates that ask for the product of two codes;
* ``{name}``: a common US first name (:func:`~sociallearn.privacy.first_names.common_first_names`).

A slot may appear several times and always gets the same value. Any other text, braces included,
is left exactly as written.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from sociallearn.errors import ConfigError
from sociallearn.privacy.first_names import common_first_names
from sociallearn.tasks.base import CanaryTemplate, Example, Task

CODE_MIN = 1000
CODE_MAX = 9999
N_CODES = CODE_MAX - CODE_MIN + 1
SLOTS = ("code", "code2", "product", "name")
_SLOT = re.compile(r"\{(" + "|".join(SLOTS) + r")\}")


@dataclass(frozen=True)
class CanarySet:
    """The planted canary of one run and its references, all from the same template.

    ``secrets`` holds the canary's slot values in the order of ``slots`` (e.g. ``("1234", "5678",
    "7006652")`` for ``("code", "code2", "product")``); ``reference_secrets`` the same for each
    reference. Only ``canary`` is ever planted; ``references`` must never reach a teacher.
    """

    template: str
    kind: Literal["code", "name"]
    slots: tuple[str, ...]
    canary: str
    secrets: tuple[str, ...]
    references: tuple[str, ...]
    reference_secrets: tuple[tuple[str, ...], ...]
    seed: int

    @property
    def n_total(self) -> int:
        """N_SS: the canary plus its references."""
        return 1 + len(self.references)

    @property
    def texts(self) -> tuple[str, ...]:
        """The canary first, then the references: the order :func:`audit_prompt` scores them in."""
        return (self.canary, *self.references)

    @property
    def secret(self) -> str:
        """The main secret: the value of ``{code}`` or ``{name}`` (see ``secrets`` for all)."""
        return self.secrets[0]

    @property
    def slot_values(self) -> dict[str, str]:
        """The canary's slot values by slot name."""
        return dict(zip(self.slots, self.secrets, strict=True))

    def found_in(self, text: str) -> list[str]:
        """The canary's secret values that occur in ``text`` as whole numbers or words."""
        return [s for s in self.secrets if secret_pattern([s]).search(text)]


def secret_pattern(secrets: Iterable[str]) -> re.Pattern[str]:
    """A regex finding any of ``secrets`` as a whole number or word; none given matches nothing.

    A code must not be part of a longer number; a name must be a whole word, matched with its case
    so that a name such as "Will" or "May" does not match the ordinary words "will" or "may".
    """
    parts: list[str] = []
    for secret in sorted({s.strip() for s in secrets if s.strip()}, key=len, reverse=True):
        escaped = re.escape(secret)
        parts.append(rf"(?<!\d){escaped}(?!\d)" if secret.isdigit() else rf"(?<!\w){escaped}(?!\w)")
    return re.compile("|".join(parts)) if parts else re.compile(r"(?!)")


def template_slots(template: CanaryTemplate) -> tuple[str, ...]:
    """The slots ``template`` uses, in canonical order; raises ConfigError if they do not fit."""
    used = set(_SLOT.findall(template.text))
    slots = tuple(s for s in SLOTS if s in used)
    where = f"canary template {template.name!r}"
    if template.kind == "code":
        if "code" not in used:
            raise ConfigError(f"{where}: a 'code' canary needs a {{code}} slot in its text")
        if "name" in used:
            raise ConfigError(f"{where}: a 'code' canary cannot also have a {{name}} slot")
        if "product" in used and "code2" not in used:
            raise ConfigError(f"{where}: {{product}} needs both {{code}} and {{code2}} slots")
    elif template.kind == "name":
        if used != {"name"}:
            raise ConfigError(f"{where}: a 'name' canary needs {{name}} and no code slots")
    else:
        raise ConfigError(f"{where}: kind must be 'code' or 'name', got {template.kind!r}")
    return slots


def render_canary(template: CanaryTemplate, values: Mapping[str, str]) -> str:
    """Fill ``template``'s slots with ``values``; a missing value raises ConfigError."""

    def fill(match: re.Match[str]) -> str:
        slot = match.group(1)
        if slot not in values:
            raise ConfigError(f"canary template {template.name!r}: no value for {{{slot}}}")
        return values[slot]

    return _SLOT.sub(fill, template.text)


def _code_values(code: int, code2: int | None, slots: tuple[str, ...]) -> tuple[str, ...]:
    found = {"code": str(code)}
    if code2 is not None:
        found["code2"] = str(code2)
        found["product"] = str(code * code2)
    return tuple(found[s] for s in slots)


def _draw_codes(slots: tuple[str, ...], n: int, rng: random.Random) -> list[tuple[str, ...]]:
    if "code2" not in slots:
        if n > N_CODES:
            raise ConfigError(f"n_total {n} exceeds the {N_CODES} possible four-digit codes")
        return [_code_values(c, None, slots) for c in rng.sample(range(CODE_MIN, CODE_MAX + 1), n)]
    seen: set[tuple[int, int]] = set()
    out: list[tuple[str, ...]] = []
    while len(out) < n:
        pair = (rng.randint(CODE_MIN, CODE_MAX), rng.randint(CODE_MIN, CODE_MAX))
        if pair not in seen:
            seen.add(pair)
            out.append(_code_values(pair[0], pair[1], slots))
    return out


def make_canary_set(template: CanaryTemplate, n_total: int = 1000, seed: int = 0) -> CanarySet:
    """Draw one canary and ``n_total - 1`` distinct references from ``template``, by ``seed``.

    Codes are drawn uniformly without replacement (pairs of codes for two-code templates). Names
    are the ``n_total`` most common first names, shuffled by ``seed``; the first is the canary.
    The name tables hold 5,163 distinct names, so a larger ``n_total`` silently uses all of them
    (check :attr:`CanarySet.n_total`). Use a different seed for each of the T_SS runs.
    """
    slots = template_slots(template)
    if n_total < 2:
        raise ConfigError(f"canary set size n_total must be at least 2, got {n_total}")
    rng = random.Random(f"sociallearn-canary:{template.name}:{seed}")
    if template.kind == "code":
        draws = _draw_codes(slots, n_total, rng)
    else:
        pool = list(common_first_names(n_total))
        rng.shuffle(pool)
        draws = [(name,) for name in pool]
    texts = [render_canary(template, dict(zip(slots, values, strict=True))) for values in draws]
    return CanarySet(
        template=template.name,
        kind=template.kind,
        slots=slots,
        canary=texts[0],
        secrets=draws[0],
        references=tuple(texts[1:]),
        reference_secrets=tuple(draws[1:]),
        seed=seed,
    )


@dataclass(frozen=True)
class CanarySpace:
    """Every text a one-code template can produce, for exact exposure by enumeration."""

    template: str
    codes: tuple[str, ...]
    texts: tuple[str, ...]

    def index_of(self, code: str) -> int:
        """Position of ``code`` in the space (for :func:`exposure_enumeration`)."""
        value = int(code)
        if not CODE_MIN <= value <= CODE_MAX:
            raise ValueError(f"{code!r} is not a code in {CODE_MIN}..{CODE_MAX}")
        return value - CODE_MIN


def code_space(template: CanaryTemplate) -> CanarySpace:
    """All 9,000 renderings of a template whose only secret is one ``{code}``.

    Two-code templates have 81 million combinations, too many to score; use sampled references.
    """
    slots = template_slots(template)
    if slots != ("code",):
        raise ConfigError(
            f"canary template {template.name!r}: full enumeration needs exactly one {{code}} slot"
        )
    codes = tuple(str(c) for c in range(CODE_MIN, CODE_MAX + 1))
    texts = tuple(render_canary(template, {"code": c}) for c in codes)
    return CanarySpace(template=template.name, codes=codes, texts=texts)


def canary_example(canary_set: CanarySet, task: Task, uid: str | None = None) -> Example:
    """The planted canary as an :class:`Example` for a teacher's silo.

    ``verbatim`` is the rendered canary, so the example always renders exactly as drawn. When the
    text also parses as one example of ``task``, its fields and target are filled in too, so
    anything that reads fields (labels, class balance) treats it like any other example.
    """
    parsed = task.parse_examples(canary_set.canary)
    fields: Mapping[str, str] = {}
    target = ""
    if len(parsed) == 1:
        fields, target = parsed[0].fields, parsed[0].target
    return Example(
        fields=fields,
        target=target,
        uid=uid or f"canary:{canary_set.template}:{canary_set.seed}",
        verbatim=canary_set.canary,
    )
