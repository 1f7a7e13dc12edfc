"""For ``make demo``: register a duckling in the local form, and summarise what landed per team."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backfill.appdb import AppDB
from backfill.duckling.credentials import access_for
from backfill.duckling.lake import open_lake
from backfill.duckling.registry import Duckling, Registry
from backfill.ledger import DONE, Ledger
from backfill.settings import CONNECTIONS, DUCKLING


def register_demo_duckling(
    db: AppDB,
    team_id: int,
    *,
    bucket: str,
    catalog_path: str | Path,
    region: str = "us-east-1",
    create_bucket: bool = True,
    aws_conn_id: str = CONNECTIONS.aws,
) -> Duckling:
    """Upsert a local-form registry row (DuckLake file catalog at ``catalog_path``, data in ``bucket`` on
    aws_default's S3 endpoint) and create the bucket if missing. Needs the aws_default connection."""
    catalog_path = str(Path(catalog_path).resolve())
    Path(catalog_path).parent.mkdir(parents=True, exist_ok=True)
    duckling = Duckling(
        team_id=team_id, bucket=bucket, bucket_region=region, catalog_path=catalog_path
    ).validate()
    registry = Registry(db)
    registry.upsert(
        team_id=team_id,
        bucket=bucket,
        bucket_region=region,
        catalog_path=catalog_path,
        db_host=None,
        db_port=None,
        db_database=None,
        db_username=None,
        db_password=None,
        db_password_conn_id=None,
        cross_account_role_arn=None,
        cross_account_external_id=None,
    )
    if create_bucket:
        s3 = access_for(duckling, "demo", aws_conn_id).boto3_client()
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
    return duckling


def summary(
    db: AppDB, team_ids: list[int] | None = None, *, aws_conn_id: str = CONNECTIONS.aws
) -> list[dict[str, Any]]:
    """Per team: days and rows exported (ledger, events done), rows registered (lake), persons in the lake."""
    registry, ledger = Registry(db), Ledger(db)
    out = []
    for team_id in team_ids or registry.team_ids():
        rows = ledger.rows(DUCKLING.family, team_ids=[team_id], kind="events", status=DONE)
        entry: dict[str, Any] = {
            "team_id": team_id,
            "days_done": len(rows),
            "rows_exported": sum(int(r["source_count"] or 0) for r in rows),
            "rows_registered_ledger": sum(int(r["target_count"] or 0) for r in rows),
            "lake_events": None,
            "lake_days": None,
            "lake_persons": None,
            "first_day": min((r["day"] for r in rows), default=None),
            "last_day": max((r["day"] for r in rows), default=None),
        }
        try:
            duckling = registry.get(team_id)
            with open_lake(duckling, access_for(duckling, "demo", aws_conn_id)) as lake:
                if lake.columns("events"):
                    n, days = lake.con.execute(
                        'SELECT count(*), count(DISTINCT CAST("timestamp" AS DATE)) FROM lake.main.events '
                        "WHERE team_id = $t",
                        {"t": team_id},
                    ).fetchone()
                    entry.update(lake_events=int(n), lake_days=int(days))
                if lake.columns("persons"):
                    entry["lake_persons"] = int(
                        lake.con.execute(
                            "SELECT count(*) FROM lake.main.persons WHERE team_id = $t", {"t": team_id}
                        ).fetchone()[0]
                    )
        except Exception as exc:
            entry["error"] = str(exc)[:300]
        out.append(entry)
    return out


def format_summary(rows: list[dict[str, Any]]) -> str:
    lines = ["team  days  exported  registered(lake)  persons(lake)  range"]
    for r in rows:
        rng = f"{r['first_day']}..{r['last_day']}" if r["first_day"] else "-"
        lines.append(
            f"{r['team_id']:>4}  {r['days_done']:>4}  {r['rows_exported']:>8}  {str(r['lake_events']):>16}  "
            f"{str(r['lake_persons']):>13}  {rng}" + (f"  error: {r['error']}" if r.get("error") else "")
        )
    return "\n".join(lines)
