"""What a run reports, the same from both drivers: `vtr run` prints it, the DAG logs it and returns it (XCom).

Built from small, plain values (each seller's result dict), so it travels between Airflow tasks unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.alerts.ledger import FALLBACK_FILE
from pipeline.contract import FileStatus
from pipeline.formatting import percent
from pipeline.ingest.files import shown
from pipeline.values import FileRecord, SellerResult
from pipeline.verdict import describe


@dataclass
class RunSummary:
    start: str
    end: str
    sellers: list[SellerResult] = field(default_factory=list)  # each seller's result (steps.run_seller)
    stale: dict[str, list[str]] = field(default_factory=dict)  # seller -> daily feeds with no file for the day
    alerts_sent: int = 0
    alerts_failed: list[str] = field(default_factory=list)  # "alert -> channel: error", never a URL: a re-run retries
    alerts_undelivered: list[str] = field(default_factory=list)  # sent max_attempts times unconfirmed: given up
    alert_log_unavailable: str | None = None  # why the lake's alert log could not be used (a file under output was)
    index: str | None = None  # <output>/reports/index.html, when the run wrote a report
    not_read: list[str] = field(default_factory=list)  # landing folder entries that are not sellers' folders, and why

    def files(self, *statuses: FileStatus) -> list[FileRecord]:
        return [f for s in self.sellers for f in s.get("files", []) if f["status"] in statuses]

    def failures(self) -> list[str]:
        """Why the run must end failed: a seller whose chain broke, a file that could not be read, a failed check."""
        lines = [f"{s['seller_id']}: {s['error']}" for s in self.sellers if s.get("error")]
        lines += [f"{f['seller_id']} {shown(f['file'])}: {f['message']}" for f in self.files(FileStatus.FAILED)]
        lines += [
            f"{s['seller_id']}: outputs not published, a check failed: {c}"
            for s in self.sellers
            for c in s.get("failed_checks", [])
        ]
        return lines

    def verdicts(self) -> list[dict[str, Any]]:
        """Per account, the verdict of the last date (pipeline/verdict.py) with its breaches and as one line."""
        return [
            {"seller_id": s["seller_id"], "marketplace": m, **v, "text": describe(v)}
            for s in self.sellers
            for m, v in sorted(s.get("verdicts", {}).items())
        ]

    def figures(self) -> dict[str, Any]:
        """The run in a few numbers, for Airflow's XCom and asset events: per account the verdict and the overall
        VTR of the last date in each window, and each seller's report."""
        loaded = self.files(FileStatus.LOADED)
        return {
            "snapshot_date": self.end,
            "start_date": self.start,
            "verdicts": self.verdicts(),
            "accounts": [
                {
                    "seller_id": s["seller_id"],
                    "marketplace": m,
                    "window_days": w,
                    "packages_total": t,
                    "packages_valid": v,
                    "vtr": vtr,
                    "status": status,
                }
                for s in self.sellers
                for m, w, t, v, vtr, status in s.get("overall", [])
            ],
            "reports": {s["seller_id"]: s["reports"] for s in self.sellers if s.get("reports")},
            "fix_files": {s["seller_id"]: s["fix_files"] for s in self.sellers if s.get("fix_files")},
            "index": self.index,
            "files_loaded": len(loaded),
            "files_failed": len(self.files(FileStatus.FAILED)),
            "files_not_yet_complete": len(self.files(FileStatus.WAITING)),
            "not_read": [f"{f['seller_id']} {f['file']}" for f in self.files(FileStatus.NOT_READ)] + self.not_read,
            "rows_loaded": sum(f["rows_loaded"] for f in loaded),
            "rows_rejected": sum(f["rows_rejected"] for f in loaded),
            "held_confirmations": sum(s.get("held_confirmations", 0) for s in self.sellers),
            "uncategorized_items": sum(s.get("uncategorized_items", 0) for s in self.sellers),
            "stale_feeds": self.stale,
            "alerts_sent": self.alerts_sent,
            "alerts_not_delivered": len(self.alerts_failed),
            "alerts_undelivered": len(self.alerts_undelivered),
            "alert_log_unavailable": self.alert_log_unavailable,
            "warnings": [f"{s['seller_id']}: {w.split(':')[0]}" for s in self.sellers for w in s.get("warnings", [])],
            "failures": self.failures(),
        }

    def render(self) -> str:
        loaded = self.files(FileStatus.LOADED)
        dates = self.start if self.start == self.end else f"{self.start} .. {self.end}"
        held = sum(s.get("held_confirmations", 0) for s in self.sellers)
        uncategorized = sum(s.get("uncategorized_items", 0) for s in self.sellers)
        lines = [
            f"VTR snapshot {dates}",
            f"files: {len(loaded)} loaded, {len(self.files(FileStatus.UNCHANGED, FileStatus.DUPLICATE))} skipped"
            f" (already loaded), {len(self.files(FileStatus.FAILED))} failed;"
            f" rows: {sum(f['rows_loaded'] for f in loaded)} loaded,"
            f" {sum(f['rows_rejected'] for f in loaded)} rejected",
            f"held confirmations (order not arrived yet): {held};"
            f" items not in the catalog (counted as Uncategorized): {uncategorized}",
        ]
        for seller, feeds in sorted(self.stale.items()):
            lines.append(f"stale feed(s) of {seller}: no file for {self.end} in {', '.join(feeds)}")
        for f in self.files(FileStatus.WAITING):
            lines.append(
                f"not yet complete, left for the next run: {f['seller_id']} {shown(f['file'])}: {f['message']}"
            )
        for f in self.files(FileStatus.NOT_READ):
            lines.append(f"not read: {f['seller_id']} {shown(f['file'])}: {f['message']}")
        lines += [f"not read: landing folder {entry}" for entry in self.not_read]
        for s in self.sellers:
            for warning in s.get("warnings", []):
                lines.append(f"DATA-QUALITY WARNING {s['seller_id']}: {warning}")
        for failure in self.failures():
            lines.append(f"FAILED {failure}")
        for s in self.sellers:
            if not s.get("published"):
                lines.append(f"outputs of {s['seller_id']} NOT published")
            elif s.get("incomplete"):
                lines.append(f"outputs of {s['seller_id']} published from the files that loaded: INCOMPLETE")
        lines.append(
            f"alerts: {self.alerts_sent} sent"
            + (f", {len(self.alerts_failed)} not delivered (tried again on a re-run)" if self.alerts_failed else "")
            + (
                f", {len(self.alerts_undelivered)} UNDELIVERED (sent the most times allowed without a confirmation)"
                if self.alerts_undelivered
                else ""
            )
        )
        lines += [f"  not delivered: {d}" for d in self.alerts_failed]
        lines += [f"  undelivered: {d}" for d in self.alerts_undelivered]
        if self.alert_log_unavailable:
            lines.append(
                f"alert log UNAVAILABLE ({self.alert_log_unavailable}): what was sent is remembered in"
                f" {FALLBACK_FILE} under the outputs instead"
            )
        lines += ["", "verdict per account (the worst of its overall and category VTRs, every window):"]
        for v in self.verdicts():
            lines.append(f"{v['seller_id']:<14} {v['marketplace']:<14} {v['text']}")
        lines.append("")
        lines.append(
            f"{'seller':<14} {'marketplace':<14} {'window':>6} {'packages':>9} {'valid':>9} {'VTR':>8}  overall status"
        )
        for s in self.sellers:
            for marketplace, window, total, valid, vtr, status in s.get("overall", []):
                lines.append(
                    f"{s['seller_id']:<14} {marketplace:<14} {window:>5}d {total:>9} {valid:>9}"
                    f" {percent(vtr):>8}  {status}"
                )
        return "\n".join(lines)
