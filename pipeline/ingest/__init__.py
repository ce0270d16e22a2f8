"""Ingest: every new file of a seller's feed folders into the lake's raw tables.

formats: what each feed holds and the SQL checking its rows; files: finding and reading files as streams;
load: name-ordered batches committed to the lake.
"""

from pipeline.ingest.load import FileResult, ingest_feed, ingest_seller

__all__ = ["FileResult", "ingest_feed", "ingest_seller"]
