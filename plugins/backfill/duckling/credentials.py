"""S3 access for one duckling: keys from ``aws_default`` (AwsBaseHook), or STS assume_role with the
registry's role ARN + external id. The endpoint (a local S3 server, MinIO, ...) comes from the
connection's extra ``endpoint_url``. Every secret is masked in task logs as soon as it is read.

ClickHouse's own s3() calls are signed one of two ways (``S3Access.clickhouse_auth``): "keys" passes the
keys above as query parameters; "environment" passes no key at all, and the ClickHouse server signs with
its own credential chain (environment, web identity, instance role): the production mode for a
deployment whose ClickHouse role may write the buckets. Cross-account ducklings always use STS keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlparse

from backfill import sql as sqlt
from backfill.duckling.errors import DucklingError, describe, is_transient_s3, with_retries
from backfill.duckling.registry import Duckling
from backfill.settings import CLICKHOUSE_S3_AUTH_MODES, CONNECTIONS, DUCKLING
from backfill.sql import Template

# The key arguments of every s3() call in include/sql/duckling (removed in environment mode).
S3_KEY_ARGS = "{key_id:String}, {secret:String}, {session_token:String}, "


def _mask(*values: str | None) -> None:
    from airflow.sdk.log import mask_secret

    for v in values:
        if v:
            mask_secret(v)


@dataclass(frozen=True)
class S3Access:
    key_id: str
    secret: str
    session_token: str = ""
    region: str = "us-east-1"
    endpoint_url: str | None = None  # None: AWS itself
    clickhouse_auth: str = "keys"  # "keys" | "environment": how ClickHouse's s3() calls are signed

    def __repr__(self) -> str:
        return f"S3Access(key_id={self.key_id[:4]}..., region={self.region}, endpoint={self.endpoint_url})"

    __str__ = __repr__

    def clickhouse_template(self, name: str) -> Template:
        """The s3() template ``name`` for this access: as written (keys as query parameters), or, in
        environment mode, with the key arguments removed, so no key is bound and ClickHouse signs with
        its own credentials."""
        tpl = sqlt.load(name)
        if self.clickhouse_auth == "keys":
            return tpl
        if S3_KEY_ARGS not in tpl.text:
            raise ValueError(f"template {name} has no s3() key arguments to remove")
        return Template(f"{name}[environment credentials]", tpl.text.replace(S3_KEY_ARGS, ""))

    def clickhouse_params(self) -> dict[str, str]:
        """The key parameters the template takes: none in environment mode."""
        if self.clickhouse_auth == "environment":
            return {}
        return {"key_id": self.key_id, "secret": self.secret, "session_token": self.session_token or ""}

    def http_url(self, bucket: str, key: str) -> str:
        """The object URL ClickHouse's s3() takes: path style on a custom endpoint, virtual host on AWS."""
        k = quote(key, safe="/=-_.")
        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}/{bucket}/{k}"
        return f"https://{bucket}.s3.{self.region}.amazonaws.com/{k}"

    def boto3_client(self, service: str = "s3"):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            aws_session_token=self.session_token or None,
        )

    def duckdb_secret_sql(self, bucket: str, name: str = "duckling_s3") -> str:
        """CREATE SECRET statement (DuckDB cannot bind parameters here; every value is quoted)."""

        def lit(v: str) -> str:
            return "'" + str(v).replace("'", "''") + "'"

        opts = [
            "TYPE s3",
            f"KEY_ID {lit(self.key_id)}",
            f"SECRET {lit(self.secret)}",
            f"REGION {lit(self.region)}",
            f"SCOPE {lit('s3://' + bucket)}",
        ]
        if self.session_token:
            opts.append(f"SESSION_TOKEN {lit(self.session_token)}")
        if self.endpoint_url:
            parsed = urlparse(self.endpoint_url)
            opts += [
                f"ENDPOINT {lit(parsed.netloc)}",
                "URL_STYLE 'path'",
                f"USE_SSL {'true' if parsed.scheme == 'https' else 'false'}",
            ]
        if not re.match(r"^[a-z_][a-z0-9_]*$", name):
            raise ValueError(f"bad secret name {name!r}")
        return f"CREATE OR REPLACE SECRET {name} ({', '.join(opts)})"


def base_access(
    region: str, aws_conn_id: str = CONNECTIONS.aws, clickhouse_auth: str | None = None
) -> S3Access:
    """Keys and endpoint of the Airflow AWS connection; ClickHouse signs as the deployment chose."""
    clickhouse_auth = clickhouse_auth or DUCKLING.clickhouse_s3_auth
    if clickhouse_auth not in CLICKHOUSE_S3_AUTH_MODES:
        raise ValueError(f"unknown ClickHouse S3 auth mode {clickhouse_auth!r}")
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="s3")
    creds = hook.get_credentials(region_name=region)
    _mask(creds.secret_key, creds.token)
    endpoint = hook.conn_config.endpoint_url
    return S3Access(
        key_id=creds.access_key,
        secret=creds.secret_key,
        session_token=creds.token or "",
        region=region,
        endpoint_url=endpoint,
        clickhouse_auth=clickhouse_auth,
    )


def access_for(
    duckling: Duckling,
    run_id: str = "airflow",
    aws_conn_id: str = CONNECTIONS.aws,
    clickhouse_auth: str | None = None,
) -> S3Access:
    """S3 access for this duckling: aws_default, or STS assume_role when the row names a role (then
    ClickHouse signs with the STS keys too: another account's bucket, whatever the mode)."""
    base = base_access(duckling.bucket_region, aws_conn_id, clickhouse_auth)
    if not duckling.cross_account_role_arn:
        return base
    session_name = (re.sub(r"[^\w+=,.@-]", "-", f"duckling-{duckling.team_id}-{run_id}") or "duckling")[:64]

    def assume():
        sts = base.boto3_client("sts")
        return sts.assume_role(
            RoleArn=duckling.cross_account_role_arn,
            RoleSessionName=session_name,
            ExternalId=duckling.cross_account_external_id,
            DurationSeconds=DUCKLING.sts_session_seconds,
        )["Credentials"]

    try:
        creds = with_retries(assume, is_transient_s3, f"team {duckling.team_id} sts assume_role")
    except Exception as exc:
        raise DucklingError(
            duckling.team_id,
            None,
            f"STS assume_role {duckling.cross_account_role_arn} failed: {describe(exc)}",
        ) from None
    _mask(creds["SecretAccessKey"], creds["SessionToken"])
    return S3Access(
        key_id=creds["AccessKeyId"],
        secret=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
        region=duckling.bucket_region,
        endpoint_url=base.endpoint_url,
    )
