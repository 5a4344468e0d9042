"""Privacy: canary audits (Secret Sharer exposure), leakage of lessons, and the leakage gate.

Conventions: a *perplexity* is lower for likelier text (negative mean token log-prob); a *score*
is higher for likelier text (mean token log-prob). See :mod:`sociallearn.privacy.exposure`.
"""

from sociallearn.privacy.canaries import (
    CODE_MAX,
    CODE_MIN,
    CanarySet,
    CanarySpace,
    canary_example,
    code_space,
    make_canary_set,
    render_canary,
    secret_pattern,
    template_slots,
)
from sociallearn.privacy.exposure import (
    canary_rank,
    exposure_enumeration,
    exposure_extrapolation,
    exposure_interpolation,
    rank_exposure,
)
from sociallearn.privacy.first_names import common_first_names
from sociallearn.privacy.gate import LeakageGate, example_content
from sociallearn.privacy.leakage import (
    LeakageReport,
    copy_rate,
    leakage_report,
    longest_common_ngram,
    normalize_whitespace,
    normalized_distance,
    substring_distance,
)
from sociallearn.privacy.scoring import (
    AuditSummary,
    CanaryResult,
    audit_prompt,
    score_canaries,
    summarize_audit,
)

__all__ = [
    "CODE_MAX",
    "CODE_MIN",
    "AuditSummary",
    "CanaryResult",
    "CanarySet",
    "CanarySpace",
    "LeakageGate",
    "LeakageReport",
    "audit_prompt",
    "canary_example",
    "canary_rank",
    "code_space",
    "common_first_names",
    "copy_rate",
    "example_content",
    "exposure_enumeration",
    "exposure_extrapolation",
    "exposure_interpolation",
    "leakage_report",
    "longest_common_ngram",
    "make_canary_set",
    "normalize_whitespace",
    "normalized_distance",
    "rank_exposure",
    "render_canary",
    "score_canaries",
    "secret_pattern",
    "substring_distance",
    "summarize_audit",
    "template_slots",
]
