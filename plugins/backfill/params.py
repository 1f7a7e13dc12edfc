"""Run parameters, defined once: each param's default, bounds and description make both the trigger
form's Airflow ``Param`` and the Python validation that the first task repeats.

The form schema refuses bad values in the UI and at trigger time; ``validate`` repeats every check in
the first task, so a run that bypassed the form (REST, ``dags test --conf``) still fails with one
``ParamsError`` naming the param and the value, before anything is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class ParamsError(ValueError):
    """A run parameter (or a configured value) that is invalid or breaks a guarantee."""


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _invalid(name: str, value: Any, expected: str) -> ParamsError:
    return ParamsError(f"param {name}={value!r} is invalid: {expected}")


# --- shared validators ---------------------------------------------------------------------------
def team_id(value: object, source: str) -> int:
    """One team id: a positive integer (or its decimal text). Anything else: ParamsError naming it."""
    if _is_int(value) and value > 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and int(value.strip()) > 0:
        return int(value.strip())
    raise ParamsError(f"{source}: {value!r} is not a valid team id (expected a positive integer)")


def team_id_list(text: str, source: str) -> list[int]:
    """A comma-separated list like ``"1, 2,3"``; empty text means no ids."""
    tokens = [t.strip() for t in (text or "").split(",")]
    return sorted({team_id(t, source) for t in tokens if t})


def team_ids(value: Any, name: str = "team_ids") -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        raise _invalid(name, value, "expected a list of positive integers")
    ids = []
    for v in value:
        if not (_is_int(v) and v > 0):  # JSON integers only: no text here
            raise ParamsError(f"param {name}: {v!r} is not a valid team id (expected a positive integer)")
        ids.append(int(v))
    return tuple(sorted(set(ids)))


def date_value(value: Any, name: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise _invalid(name, value, "not a date (expected YYYY-MM-DD)") from None


def finished_utc_day(day: dt.date | None, name: str, today: dt.date) -> dt.date | None:
    """A day a run may process: it must have ended (UTC), or its data is still arriving."""
    if day is not None and day >= today:
        raise ParamsError(f"param {name} {day} is not a finished UTC day (today is {today})")
    return day


def bounded_int(value: Any, name: str, lo: int, hi: int | None) -> int:
    if not _is_int(value) or value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise _invalid(name, value, f"expected an integer {bound}")
    return int(value)


def boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(name, value, "expected true or false")
    return value


# --- one definition per param ----------------------------------------------------------------------
@dataclass(frozen=True)
class ParamSpec:
    """One param: what the form shows (schema, title, description, default) and how it is checked."""

    name: str
    default: Any
    title: str
    description: str
    schema: Mapping[str, Any]
    check: Callable[[Any, str], Any]

    def param(self):
        from airflow.sdk import Param

        return Param(self.default, title=self.title, description=self.description, **self.schema)


def team_ids_param(description: str) -> ParamSpec:
    schema = {"type": "array", "items": {"type": "integer", "minimum": 1}, "uniqueItems": True}
    return ParamSpec("team_ids", [], "Team ids", description, schema, team_ids)


def date_param(name: str, title: str, description: str) -> ParamSpec:
    return ParamSpec(
        name, None, title, description, {"type": ["null", "string"], "format": "date"}, date_value
    )


def int_param(
    name: str, default: int, title: str, description: str, *, lo: int, hi: int | None = None
) -> ParamSpec:
    schema: dict[str, Any] = {"type": "integer", "minimum": lo}
    if hi is not None:
        schema["maximum"] = hi

    def check(value: Any, n: str) -> int:
        return bounded_int(value, n, lo, hi)

    return ParamSpec(name, default, title, description, schema, check)


def bool_param(name: str, default: bool, title: str, description: str) -> ParamSpec:
    return ParamSpec(name, default, title, description, {"type": "boolean"}, boolean)


def subset_param(name: str, choices: Iterable[str], title: str, description: str, *, noun: str) -> ParamSpec:
    """A non-empty subset of ``choices``; returned in the choices' own order."""
    options = tuple(choices)
    schema = {
        "type": "array",
        "items": {"type": "string", "enum": list(options)},
        "minItems": 1,
        "uniqueItems": True,
    }

    def check(value: Any, n: str) -> tuple[str, ...]:
        if not isinstance(value, list | tuple) or not value:
            raise _invalid(n, value, f"expected a non-empty list of {list(options)}")
        for v in value:
            if v not in options:
                raise ParamsError(f"param {n}: unknown {noun} {v!r} (expected one of {list(options)})")
        return tuple(o for o in options if o in value)

    return ParamSpec(name, list(options), title, description, schema, check)


def object_param(name: str, title: str, description: str, check: Callable[[Any, str], Any]) -> ParamSpec:
    return ParamSpec(name, {}, title, description, {"type": "object"}, check)


@dataclass(frozen=True)
class ParamSet:
    """A DAG's params: the Airflow ``Param`` objects and the validation, from the same specs."""

    specs: tuple[ParamSpec, ...]
    by_name: dict[str, ParamSpec] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {s.name: s for s in self.specs})

    def dag_params(self) -> dict[str, Any]:
        return {s.name: s.param() for s in self.specs}

    def defaults(self) -> dict[str, Any]:
        return {s.name: s.default for s in self.specs}

    def validate(self, raw: Mapping[str, Any] | None) -> dict[str, Any]:
        """Every param checked and converted; ParamsError names the first bad one."""
        raw = dict(raw or {})
        unknown = sorted(set(raw) - set(self.by_name))
        if unknown:
            raise ParamsError(f"unknown params {unknown}; known: {sorted(self.by_name)}")
        merged = {**self.defaults(), **raw}
        return {s.name: s.check(merged[s.name], s.name) for s in self.specs}
