"""Differential-privacy accounting: a typed, JSON-serialisable event log composed by Google's
``dp-accounting`` library (optional extra ``sociallearn[dp]``).

**Privacy unit.** One teacher's silo. Two datasets are neighbours when one teacher's whole silo is
replaced (the number of teachers is public). A teacher-level ε therefore also bounds any single
private example. Every mechanism states its *sensitivity* under this relation (one teacher moves
one vote: L2 √2 on a vote histogram), and each event is handed to the library as the mechanism with
that sensitivity; no accounting formula is written here.

**Event log.** Every release appends a :class:`PrivacyEvent` (mechanism, noise, sensitivity,
count, round, what it covers). ε at any δ is recomputed from the log, never carried as a running
number, so a log stored with a result row can be re-accounted by the report and survives resume.

**Two accountants.** The log is composed by the library's RDP accountant and by privacy-loss-
distribution (PLD) composition; both give valid upper bounds, so :meth:`PrivacyLedger.epsilon`
reports the smaller (PLD is usually tighter; RDP is kept as a cross-check and for speed).

Mapping of mechanisms to the library (ADD_OR_REMOVE_ONE relation with sensitivity 1, which for the
symmetric Gaussian and Laplace pairs is exactly the pair N(0,σ²) vs N(Δ,σ²) of our relation):

* ``gaussian`` (noise σ, L2 sensitivity Δ): ``GaussianDpEvent(σ/Δ)``; PLD of the Gaussian
  mechanism with standard deviation σ/Δ.
* ``laplace`` (scale b, L1 sensitivity Δ): ``LaplaceDpEvent(b/Δ)``; PLD of the Laplace mechanism.
* ``exponential`` (sampling ∝ exp(u/τ), utility sensitivity Δ; ``noise`` = τ): ε = 2Δ/τ per
  release. RDP: such a mechanism is ε-bounded-range (Durfee & Rogers 2019), hence ε²/8-zCDP
  (Cesar & Rogers 2021), composed as ``ZCDpEvent(ε²/8)``. PLD: the library's pessimistic PLD of a
  generic (ε, 0)-DP mechanism (``from_privacy_parameters``), which dominates every ε-DP mechanism
  (Kairouz et al. 2015).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal

from sociallearn.errors import ConfigError, UserError

Mechanism = Literal["gaussian", "laplace", "exponential"]
MECHANISMS: tuple[Mechanism, ...] = ("gaussian", "laplace", "exponential")
AccountantName = Literal["best", "rdp", "pld"]

_INSTALL_HINT = (
    "differential privacy needs the 'dp-accounting' package: pip install 'sociallearn[dp]' "
    "(or pip install 'dp-accounting>=0.4')"
)
# PLD discretisation. Pessimistic rounding: the reported ε can only grow, by at most about this
# much per composed release of a discrete kind (exponential mechanism). 1e-3 matched 1e-4 to
# 1e-6 on our Gaussian and exponential logs and is about ten times faster (measured: 36 Gaussian
# releases at σ/Δ = 0.35, 1.4 s against 18 s on this machine).
_PLD_INTERVAL = 1e-3
# Above this ε (by RDP) the PLD is not computed: with so little noise its grid grows huge
# (minutes for one deliberately weakened audit run) and an ε this large means no protection
# either way. Spent.pld is then inf and the reported ε is RDP's (still a valid upper bound).
PLD_SKIP_ABOVE = 50.0


def _import_dp() -> Any:
    try:
        import dp_accounting
    except ImportError as exc:
        raise UserError(_INSTALL_HINT) from exc
    return dp_accounting


@dataclass(frozen=True)
class PrivacyEvent:
    """One kind of release, repeated ``count`` times in round ``round``.

    Args:
        mechanism: ``gaussian``, ``laplace`` or ``exponential``.
        noise: σ (Gaussian standard deviation), b (Laplace scale) or τ (exponential-mechanism
            temperature: outputs sampled ∝ exp(utility/τ)).
        sensitivity: the most one teacher's silo can move the released statistic (L2 for
            Gaussian, L1 for Laplace, the utility of any output for exponential).
        count: how many such releases.
        round: the teaching round they belong to (bookkeeping; accounting ignores it).
        covers: what the release protects, e.g. ``"selection"``, ``"labels"``, ``"generation"``.
    """

    mechanism: Mechanism
    noise: float
    sensitivity: float
    count: int = 1
    round: int = 0
    covers: str = ""

    def __post_init__(self) -> None:
        if self.mechanism not in MECHANISMS:
            raise ValueError(f"mechanism: expected one of {', '.join(MECHANISMS)}")
        if not (math.isfinite(self.noise) and self.noise > 0):
            raise ValueError(f"noise: expected a finite number > 0, got {self.noise}")
        if not (math.isfinite(self.sensitivity) and self.sensitivity > 0):
            raise ValueError(f"sensitivity: expected a finite number > 0, got {self.sensitivity}")
        if self.count < 0:
            raise ValueError(f"count: expected an integer >= 0, got {self.count}")

    @property
    def noise_multiplier(self) -> float:
        """Noise per unit of sensitivity (the library's parameter)."""
        return self.noise / self.sensitivity

    @property
    def pure_epsilon(self) -> float | None:
        """ε of one release for the pure-DP mechanisms (Laplace, exponential); None for Gaussian."""
        if self.mechanism == "laplace":
            return self.sensitivity / self.noise
        if self.mechanism == "exponential":
            return 2.0 * self.sensitivity / self.noise
        return None

    def scaled(self, group_size: int) -> PrivacyEvent:
        """The same release seen by a group of ``group_size`` silos (sensitivity × size)."""
        return replace(self, sensitivity=self.sensitivity * group_size)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PrivacyEvent:
        known = {"mechanism", "noise", "sensitivity", "count", "round", "covers"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"privacy event: unknown field(s) {', '.join(unknown)}")
        return cls(
            mechanism=data["mechanism"],
            noise=float(data["noise"]),
            sensitivity=float(data["sensitivity"]),
            count=int(data.get("count", 1)),
            round=int(data.get("round", 0)),
            covers=str(data.get("covers", "")),
        )


def require_library() -> None:
    """Fail with the install hint now (before any unit runs) when dp-accounting is missing."""
    _import_dp()


def check_delta(delta: float, where: str = "delta") -> float:
    """δ must lie in [0, 1); raise a one-line :class:`ConfigError` naming ``where`` otherwise."""
    if not (isinstance(delta, int | float) and 0 <= delta < 1):
        raise ConfigError(f"{where}: expected a number in [0, 1) (e.g. 1e-5), got {delta!r}")
    return float(delta)


def check_epsilon(epsilon: float, where: str = "max_epsilon") -> float:
    """ε must be a finite number > 0."""
    if not (isinstance(epsilon, int | float) and math.isfinite(epsilon) and epsilon > 0):
        raise ConfigError(f"{where}: expected a finite number > 0, got {epsilon!r}")
    return float(epsilon)


def check_noise(noise: float, where: str = "sigma") -> float:
    """Noise scales (σ, b, τ) must be finite and > 0."""
    if not (isinstance(noise, int | float) and math.isfinite(noise) and noise > 0):
        raise ConfigError(f"{where}: expected a finite number > 0, got {noise!r}")
    return float(noise)


# Events are grouped by (mechanism, noise, sensitivity): n identical releases compose as one
# self-composed event, which the library handles far faster than n separate compositions.
_Key = tuple[str, float, float]


def _grouped(events: Iterable[PrivacyEvent]) -> tuple[tuple[_Key, int], ...]:
    counts: Counter[_Key] = Counter()
    for e in events:
        if e.count:
            counts[(e.mechanism, e.noise, e.sensitivity)] += e.count
    return tuple(sorted(counts.items()))


@lru_cache(maxsize=4096)
def _rdp_epsilon(groups: tuple[tuple[_Key, int], ...], delta: float) -> float:
    dp = _import_dp()
    accountant = dp.rdp.RdpAccountant()
    for (mechanism, noise, sensitivity), count in groups:
        z = noise / sensitivity
        if mechanism == "gaussian":
            event = dp.GaussianDpEvent(z)
        elif mechanism == "laplace":
            event = dp.LaplaceDpEvent(z)
        else:
            eps = 2.0 / z
            event = dp.ZCDpEvent(rho=eps * eps / 8.0)
        accountant.compose(event, count)
    return float(accountant.get_epsilon(delta))


@lru_cache(maxsize=4096)
def _pld_epsilon(groups: tuple[tuple[_Key, int], ...], delta: float) -> float:
    dp = _import_dp()
    pld_mod = dp.pld.privacy_loss_distribution
    total = None
    for (mechanism, noise, sensitivity), count in groups:
        z = noise / sensitivity
        if mechanism == "gaussian":
            # k Gaussian releases = one Gaussian with standard deviation z/√k (the library's own
            # shortcut in its PLD accountant).
            pld = pld_mod.from_gaussian_mechanism(
                standard_deviation=z / math.sqrt(count),
                value_discretization_interval=_PLD_INTERVAL,
            )
        elif mechanism == "laplace":
            pld = pld_mod.from_laplace_mechanism(
                parameter=z, value_discretization_interval=_PLD_INTERVAL
            ).self_compose(count)
        else:
            params = dp.pld.common.DifferentialPrivacyParameters(epsilon=2.0 / z, delta=0.0)
            pld = pld_mod.from_privacy_parameters(
                params, value_discretization_interval=_PLD_INTERVAL
            ).self_compose(count)
        total = pld if total is None else total.compose(pld)
    if total is None:
        return 0.0
    return float(total.get_epsilon_for_delta(delta))


@dataclass(frozen=True)
class Spent:
    """ε at one δ by each accountant, and the reported (smaller) value."""

    delta: float
    rdp: float
    pld: float

    @property
    def epsilon(self) -> float:
        return min(self.rdp, self.pld)

    @property
    def accountant(self) -> str:
        return "pld" if self.pld <= self.rdp else "rdp"


@dataclass(frozen=True)
class Budget:
    """Stop releasing when the next release would take ε at ``delta`` above ``max_epsilon``."""

    max_epsilon: float
    delta: float


@dataclass
class PrivacyLedger:
    """The event log of one unit (one teaching run) and its accounting.

    Example::

        ledger = PrivacyLedger()
        vote = PrivacyEvent("gaussian", noise=4.0, sensitivity=2**0.5, covers="selection")
        if not ledger.would_exceed(vote, max_epsilon=8.0, delta=1e-5):
            ledger.record(vote)
        ledger.epsilon(1e-5)
        PrivacyLedger.from_json(ledger.to_json()).epsilon(1e-5)  # same value
    """

    events: list[PrivacyEvent] = field(default_factory=list)
    budget: Budget | None = None
    # The δ at which the run reports ε (a DP component sets its own).
    delta: float = 1e-5
    # What the next release will cost (set by a mechanism that releases once per round), so
    # the runner can stop *before* a round whose release would not fit (see after_round).
    next_release: tuple[PrivacyEvent, ...] = ()
    # Set when a release was refused for lack of budget.
    exhausted: bool = False

    def charge(self, events: Sequence[PrivacyEvent]) -> bool:
        """Record ``events`` if they fit the budget (or there is none); False refuses them.

        Call it *before* releasing: a refused release must not happen.
        """
        if self.budget is not None and not self._fits(
            [*self.events, *events], self.budget.max_epsilon, self.budget.delta
        ):
            self.exhausted = True
            return False
        self.extend(events)
        return True

    def after_round(self, record: object) -> bool:
        """A round hook: stop teaching when the forecast next release does not fit the budget."""
        if self.exhausted:
            return True
        if self.budget is None or not self.next_release:
            return False
        if self._fits(
            [*self.events, *self.next_release], self.budget.max_epsilon, self.budget.delta
        ):
            return False
        self.exhausted = True
        return True

    def summary(self, delta: float | None = None) -> dict[str, Any]:
        """The row's privacy record: the event log, and ε at δ (recomputable from the log)."""
        d = delta if delta is not None else (self.budget.delta if self.budget else self.delta)
        spent = self.spent(d)
        return {
            "events": self.to_list(),
            "covers": list(self.covers()),
            "releases": self.releases,
            "delta": d,
            "epsilon": spent.epsilon,
            "epsilon_rdp": spent.rdp,
            "epsilon_pld": spent.pld if math.isfinite(spent.pld) else None,
            "accountant": spent.accountant,
            "max_epsilon": self.budget.max_epsilon if self.budget else None,
            "stopped_by_budget": self.exhausted,
        }

    def record(self, event: PrivacyEvent) -> None:
        """Append a release that has happened (or is about to: record before releasing)."""
        self.events.append(event)

    def extend(self, events: Iterable[PrivacyEvent]) -> None:
        for e in events:
            self.record(e)

    @property
    def releases(self) -> int:
        return sum(e.count for e in self.events)

    def spent(self, delta: float, events: Sequence[PrivacyEvent] | None = None) -> Spent:
        """ε at ``delta`` by the RDP and the PLD accountant."""
        check_delta(delta)
        groups = _grouped(self.events if events is None else events)
        if not groups:
            return Spent(delta=delta, rdp=0.0, pld=0.0)
        rdp = _rdp_epsilon(groups, delta)
        skip = math.isfinite(rdp) and rdp > PLD_SKIP_ABOVE
        pld = math.inf if skip else _pld_epsilon(groups, delta)
        return Spent(delta=delta, rdp=rdp, pld=pld)

    def epsilon(self, delta: float, accountant: AccountantName = "best") -> float:
        """ε at ``delta`` recomputed from the log; ``best`` is the smaller of RDP and PLD."""
        spent = self.spent(delta)
        if accountant == "rdp":
            return spent.rdp
        if accountant == "pld":
            return spent.pld
        return spent.epsilon

    def would_exceed(self, event: PrivacyEvent, max_epsilon: float, delta: float) -> bool:
        """Whether recording ``event`` next would take ε at ``delta`` above ``max_epsilon``."""
        check_epsilon(max_epsilon)
        return not self._fits([*self.events, event], max_epsilon, delta)

    def _fits(self, events: Sequence[PrivacyEvent], max_epsilon: float, delta: float) -> bool:
        check_delta(delta)
        groups = _grouped(events)
        if not groups:
            return True
        # RDP costs microseconds and bounds the reported ε from above: when it fits, so does
        # the reported value, and the (slower) PLD is not needed.
        rdp = _rdp_epsilon(groups, delta)
        if rdp <= max_epsilon:
            return True
        if math.isfinite(rdp) and rdp > PLD_SKIP_ABOVE:
            return False  # conservative: PLD is not computed there (see PLD_SKIP_ABOVE)
        return _pld_epsilon(groups, delta) <= max_epsilon

    def affordable(
        self,
        event: PrivacyEvent | Sequence[PrivacyEvent],
        max_epsilon: float,
        delta: float,
        limit: int = 1_000_000,
    ) -> int:
        """How many more copies of ``event`` (or of a bundle of events) fit under ``max_epsilon``.

        A binary search over whole-log accountings (ε is monotone in the count), so a method can
        plan its releases once instead of asking before each one.
        """
        check_epsilon(max_epsilon)
        bundle = (event,) if isinstance(event, PrivacyEvent) else tuple(event)

        def fits(n: int) -> bool:
            return self._fits([*self.events, *(bundle * n)], max_epsilon, delta)

        if not fits(1):
            return 0
        lo, hi = 1, 2
        while hi <= limit and fits(hi):
            lo, hi = hi, hi * 2
        hi = min(hi, limit + 1)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid
        return lo

    def group(self, size: int) -> PrivacyLedger:
        """The log as seen by a group of ``size`` silos (e.g. a canary planted in all of them).

        Each mechanism's sensitivity grows by the factor ``size`` (triangle inequality), which the
        library then accounts exactly as before: a valid group-privacy bound, usually far tighter
        than the generic (kε, k·e^{(k-1)ε}·δ).
        """
        if size < 1:
            raise ValueError(f"group size: expected an integer >= 1, got {size}")
        return PrivacyLedger([e.scaled(size) for e in self.events])

    def covers(self) -> tuple[str, ...]:
        """What the recorded releases protect, in first-seen order."""
        return tuple(dict.fromkeys(e.covers for e in self.events if e.covers))

    # ------------------------------------------------------------------ serialisation

    def to_list(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.events]

    @classmethod
    def from_list(cls, items: Iterable[dict[str, Any]]) -> PrivacyLedger:
        return cls([PrivacyEvent.from_dict(dict(item)) for item in items])

    def to_json(self) -> str:
        return json.dumps(self.to_list(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PrivacyLedger:
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError("privacy ledger JSON: expected a list of events")
        return cls.from_list(data)
