"""Register one exported partition in the duckling's DuckLake: one transaction, counts checked.

Events: delete the team-day and add exactly this attempt's files in one transaction (a path the catalog
already references is refused), then compare the lake's count with the file's. Persons: merge the
staged rows version-guarded. The outcome goes to the ledger; a failure names the partition.
"""

from __future__ import annotations

import logging
from typing import Any

from backfill.duckling import orphans
from backfill.duckling.credentials import access_for
from backfill.duckling.errors import DucklingError
from backfill.duckling.lake import Lake, open_lake
from backfill.duckling.layout import EVENTS, PERSONS_FULL, split_person_files
from backfill.duckling.params import RunParams
from backfill.duckling.referenced import KEPT_EXPORTS
from backfill.duckling.run import FAMILY, Env, RunInfo, failure_recorded, partition_key
from backfill.faults import fault_point
from backfill.ledger import ClaimLost, PartitionKey, utcnow
from backfill.settings import DUCKLING

log = logging.getLogger(__name__)


def register_partition(
    exported: dict[str, Any], options: RunParams, run: RunInfo, env: Env | None = None, *, before_commit=None
) -> dict:
    """One DuckLake transaction for the partition; then verify counts and record the outcome."""
    if exported.get("status") != "exported":
        return dict(exported)
    env = env or Env.from_connections()
    key = partition_key(exported)
    files, source = list(exported["files"]), int(exported["source_count"])
    env.ledger.renew_owner(FAMILY, run.owner, DUCKLING.lease_seconds)  # this run is progressing
    try:  # the claim export took, or this owner's own failed attempt: a retry continues it
        env.ledger.resume(key, run.owner, DUCKLING.lease_seconds)
    except ClaimLost:
        raise DucklingError(
            key.team_id,
            key.day,
            "lost the ledger claim before registration (lease expired and "
            "another run took the partition over); nothing registered",
        ) from None
    detail: dict[str, Any] = {"run_id": run.run_id, "clickhouse": exported.get("clickhouse")}
    if exported.get(KEPT_EXPORTS):  # earlier export-only files of this partition stay protected
        detail[KEPT_EXPORTS] = exported[KEPT_EXPORTS]

    def fence():  # no commit unless this run still holds a live claim (see Ledger.fenced)
        return env.ledger.fenced(key, run.owner, DUCKLING.lease_seconds)

    with failure_recorded(env, key, run), env.ledger.heartbeat(key, run.owner, DUCKLING.lease_seconds):
        duckling = env.registry.get(key.team_id)
        access = access_for(duckling, run.run_id, env.aws_conn_id)
        with open_lake(duckling, access) as lake:
            lake.ensure_tables(
                key.kind,
                create_if_missing=options.create_tables_if_missing,
                validate=not options.skip_schema_validation,
                day=key.day,
            )
            if key.kind == EVENTS:
                retry = run.try_number > 1  # only a retry can find its own files registered already
                target = _register_events(
                    lake, key, files, source, options, detail, before_commit, retry, fence
                )
            else:
                target = _merge_persons(lake, key, files, detail, before_commit, fence)
        fault_point("register:committed")
    env.ledger.succeed(key, run.owner, source_count=source, target_count=target, files=files, detail=detail)
    if key.kind == PERSONS_FULL:
        env.state.set(key.team_id, full_persons_exported_at=utcnow())
    if key.kind != EVENTS or detail.get("erased_rows_dropped"):
        # merged row by row (or written without the erased rows): the lake holds what it needs, and these
        # unregistered files hold personal data; upkeep removes any a crash leaves behind
        _remove_files(access, files)
    log.info("%s: registered, lake %d / source %d", exported["label"], target, source)
    return {**exported, "status": "done", "target_count": target}


def _register_events(
    lake: Lake,
    key: PartitionKey,
    files: list[str],
    source: int,
    options: RunParams,
    detail: dict,
    before_commit,
    retry: bool = False,
    fence=None,
) -> int:
    cleanup = options.cleanup_existing_partition_data
    if retry and files and lake.live_event_files(key.day) == set(files):
        detail["resumed"] = "the files were registered by an earlier attempt that died before recording it"
    else:
        # rows of persons erased since (or despite) the export: written without them, never added back
        erased = lake.erased_rows_in(files)
        if erased:
            detail["erased_rows_dropped"] = erased
            source -= erased
        lake.register_events(
            key.day,
            files,
            cleanup=cleanup,
            before_commit=before_commit,
            without_erased=bool(erased),
            fence=fence,
        )
    target, uuids = lake.events_day_count(key.day)
    detail.update(lake_rows=target, lake_uuids=uuids)
    if not cleanup:
        detail["warning"] = "appended without cleanup: one-copy guarantee given up"
    elif target != source or uuids != target:
        raise DucklingError(
            key.team_id,
            key.day,
            f"lake holds {target} rows ({uuids} distinct uuids) after registration, the exported file(s) had {source}",
        )
    return target


def _remove_files(access, files: list[str]) -> None:
    try:  # best effort: upkeep removes what is left
        orphans.remove(access.boto3_client(), files)
    except Exception as exc:
        log.info("could not remove merged staging files %s: %s", files, exc)


def _merge_persons(
    lake: Lake, key: PartitionKey, files: list[str], detail: dict, before_commit, fence=None
) -> int:
    persons, distinct = split_person_files(files)
    staged, target = lake.merge_persons(
        persons, distinct, day=key.day, before_commit=before_commit, fence=fence
    )
    detail.update(staged=staged, applied=target)
    if target != staged:
        raise DucklingError(key.team_id, key.day, f"persons merge applied {target} of {staged} rows")
    return target
