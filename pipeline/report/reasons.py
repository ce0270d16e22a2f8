"""The invalid reasons (pipeline/contract.py REASONS) as a seller reads them: a label, and what to do about a package
with that reason (a test holds both to the contract)."""

from __future__ import annotations

LABELS = {
    "missing_tracking": "Missing tracking number",
    "carrier_not_integrated": "Carrier not integrated",
    "no_carrier_events": "No carrier event",
    "pre_transit_only": "Label only, never scanned",
    "scan_before_ship_date": "Recycled number (older scans)",
}
WHAT_TO_DO = {
    "missing_tracking": "Upload the package's tracking number (shipping-confirmation file, or the fix file below).",
    "carrier_not_integrated": "Confirm it with the code of an integrated carrier if it travelled with one; "
    "otherwise it cannot count as valid: ship with an integrated carrier from now on.",
    "no_carrier_events": "Compare the tracking number with the label (a typo never gets a scan) and upload the right "
    "one; if it is right, ask the carrier to scan the parcel.",
    "pre_transit_only": "The label was printed but the carrier never scanned the parcel: hand it over or ask the "
    "carrier for a pickup scan.",
    "scan_before_ship_date": "The number's scans belong to an older parcel: check the label and upload this "
    "parcel's number.",
}


def label(reason: str | None) -> str:
    return LABELS.get(reason or "", reason or "")
