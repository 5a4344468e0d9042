"""Report: accuracy tables with the paper's statistics, plots, and privacy summaries of a run."""

from sociallearn.report.build import ReportPaths, build_report
from sociallearn.report.summary import SummaryRow, results_table, summarize

__all__ = ["ReportPaths", "SummaryRow", "build_report", "results_table", "summarize"]
