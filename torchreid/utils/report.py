"""Legacy path of :func:`torchreid.evaluation.report.write_html_report`."""

from __future__ import annotations

from ..evaluation.report import write_html_report

__all__ = ["write_html_report"]
