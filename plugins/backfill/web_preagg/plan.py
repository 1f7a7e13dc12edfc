"""The plan: which team-days this run recomputes, and why the others wait. Pure; no I/O.

Rules
  * repairs come first and never wait for the threshold: missing team-days that this backfill touched
    before (a delete that succeeded and a copy that did not leaves a hole only the backfill made);
  * other missing team-days (missing from at least one checked table; a team-day counts once) run only
    when there are at least ``min_missing_partitions`` of them; ``force`` bypasses the threshold and adds
    every present team-day with traffic in the window;
  * stale team-days (present, but the source changed) always qualify, after the missing ones;
  * at most ``max_partitions_per_run`` team-days, newest first (missing, then stale, then forced);
  * every planned team-day recomputes all checked tables, so the two tables stay consistent;
  * a missing team-day that the cap will not reach before it leaves the lookback window (assuming one
    run per day and no new gaps) is warned about.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from backfill.web_preagg import SHORT
from backfill.web_preagg.detect import TeamDay
from backfill.web_preagg.params import RunParams, Window

RUN, SKIP = "run", "skip"


@dataclass(frozen=True)
class Decision:
    team_id: int
    day: dt.date
    kind: str  # missing | stale | force
    action: str  # run | skip
    reason: str
    tables: tuple[str, ...]
    source_pageviews: int

    def item(self) -> dict:
        """The mapped task's input: a small JSON dict."""
        return {
            "team_id": self.team_id,
            "day": self.day.isoformat(),
            "tables": list(self.tables),
            "reason": f"{self.kind}: {self.reason}",
            "source_pageviews": self.source_pageviews,
        }


@dataclass
class Plan:
    window: Window
    tables: tuple[str, ...]
    decisions: list[Decision] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def planned(self) -> list[Decision]:
        return [d for d in self.decisions if d.action == RUN]

    @property
    def skipped(self) -> list[Decision]:
        return [d for d in self.decisions if d.action == SKIP]

    def items(self) -> list[dict]:
        """What the mapped task expands over: nothing in a dry run."""
        return [] if self.dry_run else [d.item() for d in self.planned]

    def table(self) -> str:
        """The plan as a readable text table (logged by the plan task)."""
        head = f"{'#':>4}  {'team':>8}  {'day':10}  {'kind':7}  {'action':6}  {'tables':15}  reason"
        lines = [head, "-" * len(head)]
        for i, d in enumerate(self.decisions, 1):
            tables = ",".join(SHORT[t] for t in d.tables)
            action = "dry" if (self.dry_run and d.action == RUN) else d.action
            lines.append(
                f"{i:>4}  {d.team_id:>8}  {d.day.isoformat():10}  {d.kind:7}  {action:6}  "
                f"{tables:15}  {d.reason}"
            )
        if not self.decisions:
            lines.append("      (nothing missing or stale in the window)")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "window": self.window.to_dict(),
            "tables": list(self.tables),
            "dry_run": self.dry_run,
            "planned": [d.item() for d in self.planned],
            "skipped": [{**d.item(), "skip_reason": d.reason} for d in self.skipped],
            "warnings": self.warnings,
        }


def _newest_first(items: list[TeamDay]) -> list[TeamDay]:
    return sorted(items, key=lambda t: (-t.day.toordinal(), t.team_id))


def make_plan(
    missing: list[TeamDay], stale: list[TeamDay], present: list[TeamDay], params: RunParams, window: Window
) -> Plan:
    cap = params.max_partitions_per_run
    plan = Plan(window, params.tables, dry_run=params.dry_run)
    candidates: list[tuple[str, TeamDay]] = [("repair", m) for m in _newest_first(missing) if m.repair]
    missing = _newest_first([m for m in missing if not m.repair])
    below = len(missing) < params.min_missing_partitions and not params.force
    if below:
        for m in missing:
            plan.decisions.append(
                Decision(
                    m.team_id,
                    m.day,
                    "missing",
                    SKIP,
                    f"{m.reason}; only {len(missing)} missing team-day(s) < min_missing_partitions="
                    f"{params.min_missing_partitions}",
                    params.tables,
                    m.source_pageviews,
                )
            )
    else:
        candidates += [("missing", m) for m in missing]
    candidates += [("stale", s) for s in _newest_first(stale)]
    if params.force:
        candidates += [("force", p) for p in _newest_first(present)]
    for i, (kind, td) in enumerate(candidates):
        reason = td.reason if kind != "force" else "present, recomputed because force=true"
        if i < cap:
            plan.decisions.append(
                Decision(td.team_id, td.day, kind, RUN, reason, params.tables, td.source_pageviews)
            )
        else:
            plan.decisions.append(
                Decision(
                    td.team_id,
                    td.day,
                    kind,
                    SKIP,
                    f"{td.reason}; over max_partitions_per_run={cap}, left for a later run",
                    params.tables,
                    td.source_pageviews,
                )
            )
    if not below:
        for i, m in enumerate(missing):
            runs_until = i // cap  # 0 = this run
            runs_left_in_window = (m.day - window.start).days
            if runs_until > runs_left_in_window:
                plan.warnings.append(
                    f"team {m.team_id} day {m.day}: missing, but at {cap} team-days per run it is reached in "
                    f"{runs_until} run(s) and leaves the {window.days}-day window after {runs_left_in_window}: "
                    "raise max_partitions_per_run or trigger a run with a larger cap"
                )
    return plan
