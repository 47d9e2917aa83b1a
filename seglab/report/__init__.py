"""The run report: one self-contained HTML page per work dir that shows whether each training
trick did what it was meant to (``render_report``), and the data files it is built from."""
from seglab.report.page import render_report

__all__ = ["render_report"]
