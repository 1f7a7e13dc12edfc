"""DuckDB connections with the DuckLake, postgres and httpfs extensions loaded offline.

The extensions come from the ``duckdb-extension-*`` wheels: each is INSTALLed from the file inside its
package into a project-local extension directory, then LOADed. Autoinstall is off, so nothing is ever
downloaded at run time (these machines have no network).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import duckdb

from backfill.settings import LOCAL_DIR

EXTENSIONS = ("httpfs", "postgres", "ducklake")


def _extension_file(name: str) -> Path:
    module = importlib.import_module(f"duckdb_extension_{name}")
    root = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    path = root / f"{name}.duckdb_extension"
    if not path.is_file():
        raise FileNotFoundError(
            f"DuckDB extension {name} for DuckDB {duckdb.__version__} not found at {path}"
        )
    return path


def connect(
    extension_dir: Path | None = None, extensions: tuple[str, ...] = EXTENSIONS
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the given extensions loaded from local files."""
    ext_dir = Path(extension_dir or LOCAL_DIR / "duckdb_extensions")
    ext_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute("SET extension_directory = ?", [str(ext_dir)])
    con.execute("SET TimeZone = 'UTC'")  # day windows are UTC whatever the machine's zone is
    for name in extensions:
        # INSTALL takes a file path literal; the path is ours (site-packages), not user input.
        con.execute(f"INSTALL '{_extension_file(name)}'")
        con.execute(f"LOAD {name}")
    return con
