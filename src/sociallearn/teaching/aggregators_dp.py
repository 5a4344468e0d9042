"""``dp_voting``: a differentially private vote among candidates (trusted aggregation only).

Every teacher casts one vote (the candidate likeliest after its held-out examples, as in
``voting``); the trusted aggregator adds Gaussian noise to the vote histogram and releases only the
noisy winner (GNMax). With ``threshold`` it answers only when the noisy top count reaches it
(confident GNMax) and otherwise releases nothing that round.

**What ε covers: the selection only** ("selection ε"). The noise hides which teachers preferred
which candidate; the candidates themselves were written *from* private data and the winner is
released as written, so it can still carry a secret. Report it beside copy rate, gate rejections
and canary exposure, never as plain ε. Confident GNMax is charged data-independently (see
:mod:`sociallearn.privacy.mechanisms`).

Config: ``aggregators: [{name: dp_voting, sigma: 4.0, threshold: 3, max_epsilon: 8}]`` with
``aggregation: trusted``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator

from sociallearn.errors import ConfigError
from sociallearn.privacy.accounting import Budget, PrivacyEvent, PrivacyLedger, require_library
from sociallearn.privacy.mechanisms import (
    TOP_COUNT_SENSITIVITY,
    VOTE_L2_SENSITIVITY,
    confident_gnmax,
    gnmax,
    vote_histogram,
)
from sociallearn.teaching.aggregators import AggregationRound, aggregators
from sociallearn.teaching.components import Component
from sociallearn.teaching.lesson import Candidate

COVERS = "selection"


class DpVoting(Component):
    """GNMax (optionally confident) over one vote per teacher; see the module doc."""

    name: ClassVar[str] = "dp_voting"
    requires_trusted: ClassVar[bool] = True
    covers: ClassVar[str] = COVERS

    sigma: float = Field(4.0, gt=0, allow_inf_nan=False)
    threshold: float | None = None
    sigma_threshold: float | None = Field(None, gt=0, allow_inf_nan=False)
    max_epsilon: float | None = Field(None, gt=0, allow_inf_nan=False)
    delta: float = Field(1e-5, gt=0, lt=1)

    @property
    def may_abstain(self) -> bool:
        """A confident vote without consensus, or a spent budget, releases nothing."""
        return self.threshold is not None or self.max_epsilon is not None

    def release_events(self, round_no: int = 0) -> tuple[PrivacyEvent, ...]:
        """What one selection costs (the same whether confident GNMax answers or not)."""
        events = [
            PrivacyEvent("gaussian", self.sigma, VOTE_L2_SENSITIVITY, round=round_no, covers=COVERS)
        ]
        if self.threshold is not None:
            events.insert(
                0,
                PrivacyEvent(
                    "gaussian",
                    self.sigma_threshold or self.sigma,
                    TOP_COUNT_SENSITIVITY,
                    round=round_no,
                    covers=COVERS,
                ),
            )
        return tuple(events)

    @model_validator(mode="after")
    def _one_selection_fits(self) -> DpVoting:
        require_library()
        if self.max_epsilon is not None:
            one = PrivacyLedger(list(self.release_events())).epsilon(self.delta)
            if one > self.max_epsilon:
                raise ConfigError(
                    f"dp_voting.max_epsilon: one selection at sigma {self.sigma:g} already costs "
                    f"ε = {one:.3g} at δ = {self.delta:g}, more than max_epsilon "
                    f"{self.max_epsilon:g}; raise max_epsilon or sigma"
                )
        return self

    def select(
        self, candidates: Sequence[Candidate], context: AggregationRound, rng: random.Random
    ) -> int | None:
        ledger = context.ledger
        if ledger is None:
            raise RuntimeError("dp_voting needs the unit's privacy ledger in its round")
        ledger.delta = self.delta
        if self.max_epsilon is not None and ledger.budget is None:
            ledger.budget = Budget(self.max_epsilon, self.delta)
        events = self.release_events(context.round_no)
        if not ledger.charge(events):
            return None  # the budget is spent: nothing more is released
        ledger.next_release = events
        counts = vote_histogram(context.votes(candidates), len(candidates))
        noise = np.random.default_rng(rng.getrandbits(64))
        if self.threshold is None:
            return gnmax(counts, self.sigma, noise, round_no=context.round_no).winner
        vote = confident_gnmax(
            counts,
            self.sigma,
            self.threshold,
            self.sigma_threshold or self.sigma,
            noise,
            round_no=context.round_no,
        )
        return vote.winner


aggregators.register("dp_voting", DpVoting)
