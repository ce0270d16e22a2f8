"""Before any work: the folders a run writes (outputs, the warehouse's catalog and data, DuckDB's spill files) exist
or can be made, and can be written; a problem is one line naming the setting and the path (exit 2)."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.settings import Settings, SettingsError


def _writable_folder(folder: Path, key: str, source: str) -> None:
    """A folder that is, or can be made, writable; checked without creating anything."""
    existing = folder
    while True:  # the nearest folder (or file) that exists: where the new folders would go
        try:
            existing.stat()
            break
        except (FileNotFoundError, NotADirectoryError):
            if existing == existing.parent:
                break
            existing = existing.parent
        except OSError as exc:  # a folder on the way that may not be searched
            raise SettingsError(f"{source}: '{key}' folder cannot be used: {folder} ({exc.strerror})") from None
    if existing == folder and not folder.is_dir():
        raise SettingsError(f"{source}: '{key}' is not a folder: {folder}")
    if not existing.is_dir():
        raise SettingsError(f"{source}: '{key}' folder cannot be created: {folder} ({existing} is not a folder)")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "is not writable" if existing == folder else f"cannot be created ({existing} is not writable)"
        raise SettingsError(f"{source}: '{key}' folder {where}: {folder}")


def check_paths(settings: Settings) -> None:
    """Before any work: the output, warehouse and spill folders exist (or can be made) and can be written. Every
    folder is checked before any is made, so a bad path leaves nothing behind."""
    source = str(settings.config_file or "<defaults>")
    folders = [(settings.output, "paths.output")]
    if not settings.catalog:
        if settings.warehouse.is_dir():
            raise SettingsError(f"{source}: 'paths.warehouse' is a folder, not a catalog file: {settings.warehouse}")
        folders.append((settings.warehouse.parent, "paths.warehouse"))
    if not settings.data_path.startswith("s3://") and (settings.data_path or not settings.catalog):
        folders.append((Path(settings.lake_data_path), "warehouse.data_path"))
    if settings.temp_directory:
        folders.append((settings.temp_directory, "duckdb.temp_directory"))
    for folder, key in folders:
        _writable_folder(folder, key, source)
    for folder, key in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(f"{source}: '{key}' folder cannot be created: {folder} ({exc.strerror})") from None
