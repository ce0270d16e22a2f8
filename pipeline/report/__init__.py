"""The seller's report: one HTML page per account (seller, marketplace) for a run's last date, and an index of
them all, under <output>/reports/.

    assets.py    file names, atomic writes, the shared plotly.min.js, CSS and the sorting script
    data.py      what a page reads from the lake's marts
    html.py      small HTML pieces (rates, changes, badges, table cells)
    notes.py     the footnotes: what each figure counts
    sections.py  headline, category table, carrier table
    charts.py    trend (overall and one panel per category), days to first scan; the category colours
    lists.py     measured invalid and to-fix packages, their CSV files, the fix file
    health.py    data health: feeds, stale feeds, rejected rows, SKUs not in the catalog
    page.py      write_reports: the page of each account
    index.py     write_index: reports/index.html
"""

from pipeline.report.index import write_index
from pipeline.report.page import write_reports

__all__ = ["write_index", "write_reports"]
