"""The one error of ingest a caller handles: a file that cannot be read as what it claims."""


class FileError(Exception):
    """A file that cannot be read as what it claims (or is refused); nothing of it is loaded."""
