"""A table value rendered to both HTML and Markdown, so the two reports show the same numbers."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_NUMERIC = re.compile(r"^(?:[-–−]?[\d.]|–$)")


@dataclass(frozen=True)
class TableRow:
    """One row; ``minor`` rows (p-values under a row of accuracies) are shown smaller in HTML."""

    cells: tuple[str, ...]
    minor: bool = False


@dataclass(frozen=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[TableRow, ...]
    note: str = ""


def md_text(text: str) -> str:
    """Text from runs and users for report.md: Markdown renders raw HTML, so it is escaped."""
    return html.escape(text, quote=False)


def _md_cell(text: str) -> str:
    return md_text(text).replace("|", "\\|").replace("\n", " ")


def table_to_markdown(table: Table) -> str:
    lines = [f"**{_md_cell(table.title)}**", ""]
    lines.append("| " + " | ".join(_md_cell(cell) for cell in table.header) + " |")
    lines.append("|" + "|".join("---" for _ in table.header) + "|")
    for row in table.rows:
        cells = [_md_cell(cell) for cell in row.cells]
        if row.minor and cells and cells[0]:
            cells[0] = f"*{cells[0]}*"
        lines.append("| " + " | ".join(cells) + " |")
    if table.note:
        lines += ["", _md_cell(table.note)]
    return "\n".join(lines)


def table_to_html(table: Table) -> str:
    parts = [f'<p class="table-title">{html.escape(table.title)}</p>']
    parts.append('<div class="table-wrap"><table>')
    parts.append(
        "<thead><tr>"
        + "".join(f"<th>{html.escape(cell)}</th>" for cell in table.header)
        + "</tr></thead>"
    )
    parts.append("<tbody>")
    for row in table.rows:
        css = ' class="minor"' if row.minor else ""
        cells = []
        for index, cell in enumerate(row.cells):
            tag = "th" if index == 0 else "td"
            classes = []
            if tag == "td" and cell.endswith("*"):
                classes.append("sig")
            if tag == "td" and cell and not _NUMERIC.match(cell):
                classes.append("text")  # words read better left-aligned, numbers right-aligned
            mark = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<{tag}{mark}>{html.escape(cell)}</{tag}>")
        parts.append(f"<tr{css}>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table></div>")
    if table.note:
        parts.append(f'<p class="note">{html.escape(table.note)}</p>')
    return "".join(parts)
