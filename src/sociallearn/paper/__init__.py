"""The social-learning paper's reported numbers, shipped as data (``paper_results.yaml``).

``load_paper_results()`` reads and checks the file once and returns typed, immutable records,
so the report can put the paper's value beside each of our cells and state the paper's claims.
Accuracies stay in percent, as printed in the paper.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

DATA_FILE = "paper_results.yaml"


@dataclass(frozen=True)
class PaperCell:
    """One value of one of the paper's accuracy tables, for one task."""

    table: str  # the table's id in the data file, e.g. "table8"
    table_name: str  # as the paper names it, e.g. "Tables 1 and 8"
    label: str  # the paper's row label
    task: str  # sociallearn's task name
    method: str  # sociallearn's method name
    n: int
    aggregator: str | None
    mean: float  # percent
    sem: float | None  # percent; None where the paper gives none
    p: float | None  # the paper's pooled one-sided p against ``vs`` at the same n
    vs: str | None  # the method (or aggregator) the p-value compares against
    star: bool | None  # the asterisk printed in the paper's table
    teacher: str
    student: str


@dataclass(frozen=True)
class PaperTable:
    id: str
    name: str
    title: str
    teacher: str
    student: str
    notes: tuple[str, ...]
    cells: tuple[PaperCell, ...]


@dataclass(frozen=True)
class PaperCanary:
    """The paper's canary result for one (task, secret kind): mean rank and rank-0 count."""

    task: str
    kind: str  # "code" or "name"
    mean_rank: float
    rank_zero: int
    runs: int
    n_candidates: int


@dataclass(frozen=True)
class PaperCanaries:
    id: str
    name: str
    title: str
    model: str
    method: str
    method_note: str
    rows: tuple[PaperCanary, ...]

    def get(self, task: str, kind: str) -> PaperCanary | None:
        for row in self.rows:
            if row.task == task and row.kind == kind:
                return row
        return None


@dataclass(frozen=True)
class PaperClaim:
    id: str
    title: str
    table: str
    paper: str  # the paper's own reading of its numbers
    holds_on: tuple[str, ...]  # tasks on which the paper reads the claim as true, where listed


@dataclass(frozen=True)
class PaperResults:
    source: str
    test: str
    runs: int
    task_names: Mapping[str, str]  # sociallearn task -> the paper's column name
    tables: tuple[PaperTable, ...]
    canaries: PaperCanaries
    claims: tuple[PaperClaim, ...]

    def ran(self, task: str) -> bool:
        """Whether the paper reports results for this sociallearn task."""
        return task in self.task_names

    def table(self, table_id: str) -> PaperTable:
        for table in self.tables:
            if table.id == table_id:
                return table
        raise KeyError(f"no paper table {table_id!r}")

    def claim(self, claim_id: str) -> PaperClaim:
        for claim in self.claims:
            if claim.id == claim_id:
                return claim
        raise KeyError(f"no paper claim {claim_id!r}")

    def cell(
        self,
        table_id: str,
        task: str,
        method: str,
        n: int | None = None,
        aggregator: str | None = None,
        label: str | None = None,
    ) -> PaperCell | None:
        """The first cell matching; ``n`` None matches any n, ``aggregator`` None any."""
        for cell in self.table(table_id).cells:
            if (
                cell.task == task
                and cell.method == method
                and (n is None or cell.n == n)
                and (aggregator is None or cell.aggregator in (None, aggregator))
                and (label is None or cell.label == label)
            ):
                return cell
        return None


def _floats(values: Any, width: int, where: str) -> list[float | None]:
    if values is None:
        return [None] * width
    if not isinstance(values, list) or len(values) != width:
        raise ValueError(f"{DATA_FILE}: {where}: expected a list of {width} values")
    return [None if v is None else float(v) for v in values]


def _table(raw: Mapping[str, Any], tasks: Sequence[str]) -> PaperTable:
    cells: list[PaperCell] = []
    width = len(tasks)
    for row in raw["rows"]:
        where = f"{raw['id']}, {row['label']}, n = {row['n']}"
        means = _floats(row["mean"], width, where)
        sems = _floats(row.get("sem"), width, where)
        ps = _floats(row.get("p"), width, where)
        stars = row.get("star") or [None] * width
        if len(stars) != width:
            raise ValueError(f"{DATA_FILE}: {where}: expected {width} stars")
        for index, task in enumerate(tasks):
            mean = means[index]
            if mean is None:
                continue
            cells.append(
                PaperCell(
                    table=str(raw["id"]),
                    table_name=str(raw["name"]),
                    label=str(row["label"]),
                    task=task,
                    method=str(row["method"]),
                    n=int(row["n"]),
                    aggregator=row.get("aggregator"),
                    mean=mean,
                    sem=sems[index],
                    p=ps[index],
                    vs=row.get("vs"),
                    star=None if stars[index] is None else bool(stars[index]),
                    teacher=str(row.get("teacher") or raw["teacher"]),
                    student=str(row.get("student") or raw["student"]),
                )
            )
    return PaperTable(
        id=str(raw["id"]),
        name=str(raw["name"]),
        title=str(raw["title"]),
        teacher=str(raw["teacher"]),
        student=str(raw["student"]),
        notes=tuple(str(note) for note in raw.get("notes") or ()),
        cells=tuple(cells),
    )


def parse_paper_results(raw: Mapping[str, Any]) -> PaperResults:
    """Typed records from the parsed YAML (raises ValueError on a malformed file)."""
    tasks = [str(entry["name"]) for entry in raw["tasks"]]
    canaries = raw["canaries"]
    n_candidates = int(canaries["n_candidates"])
    runs = int(canaries["runs"])
    return PaperResults(
        source=" ".join(str(raw["source"]).split()),
        test=str(raw["test"]),
        runs=int(raw["runs"]),
        task_names={str(e["name"]): str(e["paper"]) for e in raw["tasks"]},
        tables=tuple(_table(table, tasks) for table in raw["tables"]),
        canaries=PaperCanaries(
            id=str(canaries["id"]),
            name=str(canaries["name"]),
            title=str(canaries["title"]),
            model=str(canaries["model"]),
            method=str(canaries["method"]),
            method_note=" ".join(str(canaries["method_note"]).split()),
            rows=tuple(
                PaperCanary(
                    task=str(row["task"]),
                    kind=str(row["kind"]),
                    mean_rank=float(row["mean_rank"]),
                    rank_zero=int(row["rank_zero"]),
                    runs=runs,
                    n_candidates=n_candidates,
                )
                for row in canaries["rows"]
            ),
        ),
        claims=tuple(
            PaperClaim(
                id=str(claim["id"]),
                title=" ".join(str(claim["title"]).split()),
                table=str(claim["table"]),
                paper=" ".join(str(claim["paper"]).split()),
                holds_on=tuple(str(t) for t in claim.get("holds_on") or ()),
            )
            for claim in raw["claims"]
        ),
    )


@functools.cache
def load_paper_results() -> PaperResults:
    """The paper's numbers from the package data (read once per process)."""
    import yaml

    text = resources.files(__name__).joinpath(DATA_FILE).read_text(encoding="utf-8")
    return parse_paper_results(yaml.safe_load(text))
