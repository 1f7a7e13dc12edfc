"""DuckDB connections with the DuckLake, postgres and httpfs extensions loaded offline.

The extensions come from the ``duckdb-extension-*`` wheels: each is INSTALLed from the file inside its
package into a project-local extension directory, then LOADed. Autoinstall is off, so nothing is ever
downloaded at run time (these machines have no network).

Loading costs about 0.1 s per extension and DuckDB instance. ``session()`` keeps one instance per
process, thread and extension set, and hands each caller a cursor of it: a later task in the same process
(``dag.test``, a worker running tasks one after another) skips the loading. Instance-wide state must not
outlive its user: whoever attaches a database or creates a secret on a session removes it again
(``open_lake`` does), and an instance that could not be cleaned is discarded.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


_SHARED: dict[tuple[int, tuple[str, ...]], duckdb.DuckDBPyConnection] = {}
_IN_USE: set[tuple[int, tuple[str, ...]]] = set()


@contextmanager
def session(
    extensions: tuple[str, ...] = EXTENSIONS, *, cleanup: Callable[[duckdb.DuckDBPyConnection], None]
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of this thread's DuckDB instance with ``extensions`` loaded (loaded once per process).

    ``cleanup`` removes what the caller put on the instance (attached databases, secrets); if it fails,
    the shared instance is discarded. A nested user in the same thread (the instance is busy) gets a
    private instance of its own, closed afterwards."""
    key = (threading.get_ident(), tuple(extensions))
    if key in _IN_USE:
        private = connect(extensions=tuple(extensions))
        try:
            yield private
        finally:
            private.close()
        return
    base = _SHARED.get(key)
    if base is None:
        base = _SHARED[key] = connect(extensions=tuple(extensions))
    _IN_USE.add(key)
    cur = base.cursor()
    try:
        cur.execute("SET TimeZone = 'UTC'")
        yield cur
    finally:
        _IN_USE.discard(key)
        try:
            cleanup(cur)
        except Exception:  # state the next user must not see: start a fresh instance next time
            _SHARED.pop(key, None)
            base.close()
        finally:
            cur.close()
