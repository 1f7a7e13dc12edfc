"""Named SQL templates from include/sql, and the check that typed query parameters are what they claim.

Values never enter SQL text: templates declare ClickHouse query parameters as ``{name:Type}`` and the
engine binds them server side. ``check_params`` refuses a value of the wrong Python type before any
query is sent, so ``"1; DROP TABLE events"`` for ``{team_id:Int64}`` fails here with a clear message.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache

from backfill.settings import SQL_DIR

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):([A-Za-z0-9_(), ']+)\}")
_NAME = re.compile(r"^[a-z0-9_]+(/[a-z0-9_]+)*$")
# A line holding only ``@include(name)`` is replaced by that template's text: one rule, written once,
# shared by every statement that needs it (e.g. which events the web pre-aggregation counts).
_INCLUDE = re.compile(r"^[ \t]*@include\(([a-z0-9_]+(?:/[a-z0-9_]+)*)\)[ \t]*$", re.MULTILINE)


class QueryParameterError(ValueError):
    """A value does not match the type its SQL placeholder declares."""


@dataclass(frozen=True)
class Template:
    name: str
    text: str

    @property
    def placeholders(self) -> dict[str, str]:
        return {m.group(1): m.group(2).strip() for m in _PLACEHOLDER.finditer(self.text)}


@cache
def load(name: str) -> Template:
    """Load ``include/sql/<name>.sql`` with its ``@include(...)`` lines expanded; ``name`` is a fixed
    identifier like ``web_preagg/detect``."""
    if not _NAME.match(name):
        raise ValueError(f"invalid SQL template name {name!r}")
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"SQL template {name!r} not found at {path}")
    return Template(name, _INCLUDE.sub(lambda m: load(m.group(1)).text.rstrip("\n"), path.read_text()))


def includes(name: str) -> set[str]:
    """The fragments ``name`` includes, directly or through another fragment."""
    found = set()
    for m in _INCLUDE.finditer((SQL_DIR / f"{name}.sql").read_text()):
        found |= {m.group(1)} | includes(m.group(1))
    return found


def statements(name: str) -> list[Template]:
    """Split a multi-statement template (DDL files) on ``;`` at line ends."""
    text = load(name).text
    parts = [p.strip() for p in re.split(r";\s*(?:\n|$)", text)]
    return [Template(f"{name}#{i}", p) for i, p in enumerate(parts) if p and not _only_comments(p)]


def _only_comments(sql: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in sql.splitlines())


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_one(name: str, ch_type: str, value: object) -> str:
    """Return the parameter's text form for the engine, after checking its Python type."""
    base = ch_type
    if base.startswith("Nullable("):
        if value is None:
            return "\\N"
        base = base[len("Nullable(") : -1]
    if base.startswith("Array("):
        inner = base[len("Array(") : -1]
        if not isinstance(value, list | tuple):
            raise QueryParameterError(
                f"parameter {name} must be a list for {{{name}:{ch_type}}}, got {value!r}"
            )
        items = [_check_one(name, inner, v) for v in value]
        if inner.startswith(("String", "Date", "UUID", "DateTime")):
            items = ["'" + i.replace("\\", "\\\\").replace("'", "\\'") + "'" for i in items]
        return "[" + ",".join(items) + "]"
    if re.match(r"^U?Int\d+$", base):
        if not _is_int(value):
            raise QueryParameterError(
                f"parameter {name} must be an integer for {{{name}:{ch_type}}}, got {value!r}"
            )
        if base.startswith("U") and value < 0:
            raise QueryParameterError(
                f"parameter {name} must be >= 0 for {{{name}:{ch_type}}}, got {value!r}"
            )
        return str(value)
    if base == "Date":
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise QueryParameterError(
                f"parameter {name} must be a date for {{{name}:{ch_type}}}, got {value!r}"
            )
        return value.isoformat()
    if base.startswith("DateTime"):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise QueryParameterError(
                f"parameter {name} must be a timezone-aware datetime for {{{name}:{ch_type}}}, got {value!r}"
            )
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if base in ("String", "Identifier", "UUID"):
        if not isinstance(value, str):
            raise QueryParameterError(
                f"parameter {name} must be a string for {{{name}:{ch_type}}}, got {value!r}"
            )
        if base == "Identifier" and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
            raise QueryParameterError(f"parameter {name} is not a plain identifier: {value!r}")
        return value
    if base == "Float64":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise QueryParameterError(
                f"parameter {name} must be a number for {{{name}:{ch_type}}}, got {value!r}"
            )
        return repr(float(value))
    raise QueryParameterError(f"placeholder type {ch_type} of {name} is not supported by the seam")


def check_params(template: Template, params: dict[str, object] | None) -> dict[str, str]:
    """Check ``params`` against the template's placeholders; return their text forms for the engine."""
    params = dict(params or {})
    declared = template.placeholders
    missing = sorted(set(declared) - set(params))
    extra = sorted(set(params) - set(declared))
    if missing:
        raise QueryParameterError(f"template {template.name} needs parameters {missing}")
    if extra:
        raise QueryParameterError(f"template {template.name} does not take parameters {extra}")
    return {name: _check_one(name, declared[name], params[name]) for name in declared}
