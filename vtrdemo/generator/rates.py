"""The failure modes the generator injects, as rates per package (baseline) and in the category dip."""

RATE_MISSING = 0.004  # confirmed without a tracking number
RATE_TYPO = 0.004  # a wrong digit in the confirmed number: its scans never match
RATE_PRE_TRANSIT = 0.006  # label printed, parcel never handed over (only "information received")
RATE_RECYCLED = 0.002  # the number's only scans are from a parcel months ago
RATE_FIXED = 0.008  # first confirmation wrong (typo or blank), a later file gives the right number
RATE_KEEP = 0.005  # a later confirmation row with a blank tracking number (keeps it)
RATE_REMOVE = 0.001  # a later confirmation row with the literal NULL (removes it)
RATE_LATE = 0.03  # first physical scan 2-8 days after the ship date
RATE_HELD = 0.005  # confirmation uploaded the day before its order line shows up in the report
RATE_CONTINUATION = 0.003  # order items followed by a continuation line
RATE_DUPLICATE = 0.03  # canonical scan events sent again in the next day's file
RATE_FAILED_ATTEMPT = 0.01  # a failed delivery attempt before delivery
RATE_OTHER = 0.005  # the marketplace's carrier outside the integrated list
DIP_OTHER_CARRIER = 0.08  # in the dip: the category's bulky parcels go with a carrier outside the list
DIP_PRE_TRANSIT = 0.03  # in the dip: labels printed, parcels left behind

# A package's failure mode from u(p, 20): exclusive bands, in this order (see orders.mode_sql).
BANDS = (
    ("missing", RATE_MISSING),
    ("typo", RATE_TYPO),
    ("pre_transit", RATE_PRE_TRANSIT),
    ("recycled", RATE_RECYCLED),
    ("fixed", RATE_FIXED),
    ("keep", RATE_KEEP),
    ("remove", RATE_REMOVE),
    ("late", RATE_LATE),
)
