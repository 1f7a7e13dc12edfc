"""The upkeep run's params (one definition each: form and validation) and the policy they make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backfill import params as p
from backfill.settings import DUCKLING, MAINTENANCE

# a DONE row inside the settle window is the baseline of the late-event check: retiring it would hide
# late events (never re-exported) behind the watermark's "done"
MIN_LEDGER_RETENTION_DAYS = DUCKLING.settle_days + 1

PARAMS = p.ParamSet(
    (
        p.team_ids_param("Ducklings to maintain; empty = every team in duckling_registry."),
        p.int_param(
            "keep_snapshot_days",
            MAINTENANCE.keep_snapshot_days,
            "Keep snapshots (days)",
            "Time travel kept: snapshots younger than this are never expired.",
            lo=0,
            hi=3650,
        ),
        p.int_param(
            "cleanup_margin_hours",
            MAINTENANCE.cleanup_margin_hours,
            "Cleanup margin (hours)",
            "A file that left every snapshot is deleted only this long after: readers on older snapshots "
            "and registrations in flight keep their files.",
            lo=0,
            hi=24 * 365,
        ),
        p.bool_param("compact", True, "Compact", "Merge small files (persons) and several-file events days."),
        p.bool_param(
            "propagate_erasures",
            True,
            "Propagate erasures",
            "Forget persons deleted in ClickHouse (and their events, by person and distinct ids) in the "
            "lake, physically: their files rewritten, older snapshots expired and cleaned at once.",
        ),
        p.int_param(
            "ledger_retention_days",
            MAINTENANCE.ledger_retention_days,
            "Ledger retention (days)",
            "Done events rows at or before a team's coverage watermark are deleted after this many days "
            "(the watermark keeps the coverage; claims, failures and export-only rows are never deleted). "
            f"More than the settle window ({DUCKLING.settle_days} days): a row the late-event check still "
            "compares against is never retired.",
            lo=MIN_LEDGER_RETENTION_DAYS,
            hi=3650,
        ),
        p.bool_param(
            "dry_run", False, "Dry run", "Report what would be expired and deleted; change nothing."
        ),
    )
)


@dataclass(frozen=True)
class Policy:
    keep_snapshot_days: int = MAINTENANCE.keep_snapshot_days
    cleanup_margin_hours: int = MAINTENANCE.cleanup_margin_hours
    compact: bool = True
    propagate_erasures: bool = True
    ledger_retention_days: int = MAINTENANCE.ledger_retention_days
    dry_run: bool = False
    team_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.ledger_retention_days < MIN_LEDGER_RETENTION_DAYS:
            raise p.ParamsError(
                f"param ledger_retention_days={self.ledger_retention_days} is invalid: it must be at least "
                f"{MIN_LEDGER_RETENTION_DAYS} (more than the settle window of {DUCKLING.settle_days} days)"
            )

    @classmethod
    def from_params(cls, raw: dict[str, Any] | None) -> Policy:
        """The DAG's params, validated (ParamsError names the bad one)."""
        return cls(**PARAMS.validate(raw))
