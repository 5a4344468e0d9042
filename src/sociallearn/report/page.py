"""The HTML page around the report's sections: inline CSS, no scripts, no external resources."""

from __future__ import annotations

import html
from collections.abc import Sequence

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: #1d1d1f; background: #ffffff; margin: 0; line-height: 1.45; font-size: 16px; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 28px; margin: 0 0 12px; }
h2 { font-size: 22px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #d0d7de; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0 0 12px;
           background: #f6f8fa; padding: 12px 16px; border-radius: 6px; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; word-break: break-word; }
nav ul { padding-left: 20px; margin: 6px 0; columns: 2; }
p.stats, p.note, p.intro { color: #444; }
p.note { font-size: 14px; margin: 6px 0 0; }
.table-wrap { overflow-x: auto; margin: 4px 0 0; }
p.table-title { font-weight: 600; margin: 22px 0 6px; }
table { border-collapse: collapse; font-size: 15px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d7de; padding: 5px 10px; text-align: right; white-space: nowrap; }
thead th { background: #eef2f6; text-align: center; }
tbody th { text-align: left; font-weight: 600; background: #fafbfc; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
td.sig { font-weight: 700; color: #9a3412; }
td.text { text-align: left; white-space: normal; min-width: 7em; }
tbody th { white-space: normal; min-width: 9em; }  /* sentences (Findings) wrap, numbers do not */
tr.minor th, tr.minor td { font-size: 13px; color: #666; font-weight: 400; }
figure { margin: 18px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e5e7eb; border-radius: 4px; }
figcaption { font-size: 14px; color: #555; margin-top: 4px; }
details pre { background: #f6f8fa; padding: 12px; overflow-x: auto; font-size: 13px; }
"""


def _stats_note(n_resamples: int) -> str:
    return (
        "Accuracies are in percent: the mean over seeds, with the standard error of that mean in "
        "brackets. A star marks a difference with p < 0.05 in a one-sided permutation test over "
        f"the items of all seeds pooled ({n_resamples:,} random splits of the pooled items into "
        "piles of the original sizes); the p-values are listed beside or below the marked cells."
    )


Body = Sequence[tuple[str, str, str, Sequence[str]]]
"""(anchor, title, intro, already-rendered HTML blocks) per section."""


def html_page(
    facts: Sequence[tuple[str, str]],
    sections: Body,
    config_text: str | None,
    n_resamples: int = 10_000,
    stats_note: str | None = None,
) -> str:
    """The page; ``stats_note`` (how the p-values were computed) replaces the pooled-test note."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>sociallearn report</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<h1>sociallearn report</h1>",
        '<dl class="facts">',
    ]
    parts += [f"<dt>{esc(name)}</dt><dd>{esc(value)}</dd>" for name, value in facts]
    parts.append("</dl>")
    parts.append(f'<p class="stats">{esc(stats_note or _stats_note(n_resamples))}</p>')
    if sections:
        parts.append("<nav><strong>Contents</strong><ul>")
        parts += [
            f'<li><a href="#{esc(anchor)}">{esc(title)}</a></li>'
            for anchor, title, _, _ in sections
        ]
        parts.append("</ul></nav>")
    else:
        parts.append("<p>No results to show yet.</p>")
    for anchor, title, intro, blocks in sections:
        parts.append(f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>')
        if intro:
            parts.append(f'<p class="intro">{esc(intro)}</p>')
        parts += list(blocks)
        parts.append("</section>")
    if config_text:
        parts.append("<h2>Configuration</h2><details><summary>config.yaml</summary>")
        parts.append(f"<pre>{esc(config_text)}</pre></details>")
    parts.append("</main></body></html>")
    return "\n".join(parts)
