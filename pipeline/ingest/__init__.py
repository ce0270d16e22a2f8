"""Ingest: every new file of a seller's feed folders into the lake's raw tables.

formats: what each feed holds and the SQL checking its rows; adapters: EasyPost and AfterShip JSON as canonical
scan rows; files: finding (inside the landing folder only) and reading files as streams; load: name-ordered batches
committed to the lake.
"""

from pipeline.ingest.load import FileResult, ingest_feed, ingest_seller

__all__ = ["FileResult", "ingest_feed", "ingest_seller"]
