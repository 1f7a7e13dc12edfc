"""The duckling registry (``duckling_registry`` in posthog_db): one validated row per team.

Two forms of a row (see include/sql/schema/application/02_duckling_registry.sql):

* remote: ``bucket`` (+ ``bucket_region``) and the customer's PostgreSQL catalog ``db_host``,
  ``db_port``, ``db_database``, ``db_username`` and either ``db_password`` (plaintext, masked) or
  ``db_password_conn_id`` (an Airflow connection whose password is used). Optional
  ``cross_account_role_arn`` + ``cross_account_external_id``: S3 through STS assume_role.
* local (embedded demo): ``catalog_path`` = an absolute path of a DuckLake file catalog; data still
  goes to ``bucket`` on aws_default's S3 endpoint; ``db_*`` stay NULL.

Validation never touches the network; a bad row raises ``RegistryError`` naming the team and field.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from backfill.appdb import AppDB
from backfill.duckling.errors import RegistryError

_BUCKET = re.compile(r"^(?!xn--)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_HOST = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")


SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass(frozen=True)
class Duckling:
    team_id: int
    bucket: str
    bucket_region: str = "us-east-1"
    db_host: str | None = None
    db_port: int | None = None
    db_database: str | None = None
    db_username: str | None = None
    db_password: str | None = None
    db_password_conn_id: str | None = None
    cross_account_role_arn: str | None = None
    cross_account_external_id: str | None = None
    catalog_path: str | None = None
    # TLS to the catalog's PostgreSQL (libpq's sslmode / sslrootcert): verify-full + the CA file on the
    # workers for a catalog reached over a network
    db_sslmode: str | None = None
    db_sslrootcert: str | None = None

    @property
    def is_local(self) -> bool:
        return bool(self.catalog_path)

    def __repr__(self) -> str:  # never print the password
        return (
            f"Duckling(team_id={self.team_id}, bucket={self.bucket!r}, "
            f"catalog={'local ' + str(self.catalog_path) if self.is_local else self.db_host})"
        )

    __str__ = __repr__

    def password(self) -> str | None:
        """The catalog password: plaintext from the row, or the password of the named connection."""
        from airflow.sdk.log import mask_secret

        if self.db_password_conn_id:
            from airflow.sdk import BaseHook

            try:
                value = BaseHook.get_connection(self.db_password_conn_id).password
            except Exception as exc:
                raise RegistryError(
                    self.team_id,
                    None,
                    f"db_password_conn_id {self.db_password_conn_id!r} cannot be read: {type(exc).__name__}",
                ) from None
        else:
            value = self.db_password
        if value:
            mask_secret(value)
        return value

    def validate(self) -> Duckling:
        """Raise RegistryError for the first invalid field; return self when the row is usable."""

        def bad(field: str, why: str) -> RegistryError:
            return RegistryError(self.team_id, None, f"invalid duckling_registry row: {field} {why}")

        if not isinstance(self.team_id, int) or self.team_id <= 0:
            raise bad("team_id", "must be a positive integer")
        if not self.bucket or not _BUCKET.match(self.bucket):
            raise bad("bucket", f"{self.bucket!r} is not a valid S3 bucket name")
        if not self.bucket_region or not _REGION.match(self.bucket_region):
            raise bad("bucket_region", f"{self.bucket_region!r} is not an AWS region")
        if self.is_local:
            if (
                not os.path.isabs(self.catalog_path)
                or "'" in self.catalog_path
                or "\x00" in self.catalog_path
            ):
                raise bad("catalog_path", f"{self.catalog_path!r} must be an absolute path without quotes")
            if any(getattr(self, f) for f in ("db_host", "db_port", "db_database", "db_username")):
                raise bad("catalog_path", "is set together with db_* fields: choose one form of the row")
        else:
            if not self.db_host or not _HOST.match(self.db_host):
                raise bad("db_host", f"{self.db_host!r} is not a host name or address")
            if not isinstance(self.db_port, int) or not 1 <= self.db_port <= 65535:
                raise bad("db_port", f"{self.db_port!r} is not a port (1-65535)")
            if not self.db_database or not _IDENT.match(self.db_database):
                raise bad("db_database", f"{self.db_database!r} is not a plain identifier")
            if not self.db_username or not _IDENT.match(self.db_username):
                raise bad("db_username", f"{self.db_username!r} is not a plain identifier")
            if self.db_password and self.db_password_conn_id:
                raise bad("db_password", "and db_password_conn_id are both set: choose one")
            if self.db_password_conn_id and not _CONN_ID.match(self.db_password_conn_id):
                raise bad("db_password_conn_id", f"{self.db_password_conn_id!r} is not a connection id")
            if self.db_sslmode is not None and self.db_sslmode not in SSLMODES:
                raise bad("db_sslmode", f"{self.db_sslmode!r} is not one of {', '.join(SSLMODES)}")
            if self.db_sslrootcert is not None and not (
                self.db_sslrootcert == "system"
                or (os.path.isabs(self.db_sslrootcert) and not set("'\\\x00") & set(self.db_sslrootcert))
            ):
                raise bad(
                    "db_sslrootcert", f"{self.db_sslrootcert!r} must be an absolute file path or 'system'"
                )
        if self.cross_account_role_arn or self.cross_account_external_id:
            if not self.cross_account_role_arn or not _ROLE_ARN.match(self.cross_account_role_arn):
                raise bad("cross_account_role_arn", f"{self.cross_account_role_arn!r} is not an IAM role ARN")
            if not self.cross_account_external_id or not _EXTERNAL_ID.match(self.cross_account_external_id):
                raise bad("cross_account_external_id", "is missing or has characters STS refuses")
        return self


def _row_to_duckling(row: dict[str, Any]) -> Duckling:
    fields = Duckling.__dataclass_fields__
    values = {k: row[k] for k in fields if k in row}
    if values.get("db_password"):
        from airflow.sdk.log import mask_secret

        mask_secret(values["db_password"])
    return Duckling(**values)


class Registry:
    def __init__(self, db: AppDB):
        self.db = db

    def team_ids(self) -> list[int]:
        t = self.db.table("duckling_registry")
        with self.db.engine.connect() as conn:
            return sorted(int(r[0]) for r in conn.execute(sa.select(t.c.team_id)))

    def get(self, team_id: int) -> Duckling:
        """The validated duckling of a team; RegistryError when missing or invalid."""
        t = self.db.table("duckling_registry")
        with self.db.engine.connect() as conn:
            # every column the application's table has: the optional ones (db_sslmode...) may be absent
            stmt = sa.select(sa.literal_column("*")).select_from(t).where(t.c.team_id == team_id)
            row = conn.execute(stmt).mappings().first()
        if row is None:
            raise RegistryError(team_id, None, "has no duckling_registry row (no duckling registered)")
        return _row_to_duckling(dict(row)).validate()

    def upsert(self, **row: Any) -> None:
        t = self.db.table("duckling_registry")
        stmt = self.db.insert(t).values(**row)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.team_id], set_={k: stmt.excluded[k] for k in row if k != "team_id"}
        )
        with self.db.engine.begin() as conn:
            conn.execute(stmt)
