"""S3 access for one duckling: keys from ``aws_default`` (AwsBaseHook), or STS assume_role with the
registry's role ARN + external id. The endpoint (a local S3 server, MinIO, ...) comes from the
connection's extra ``endpoint_url``. Every secret is masked in task logs as soon as it is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlparse

from backfill.duckling.errors import DucklingError, describe, is_transient_s3, with_retries
from backfill.duckling.registry import Duckling
from backfill.settings import CONNECTIONS, DUCKLING


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

    def __repr__(self) -> str:
        return f"S3Access(key_id={self.key_id[:4]}..., region={self.region}, endpoint={self.endpoint_url})"

    __str__ = __repr__

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


def base_access(region: str, aws_conn_id: str = CONNECTIONS.aws) -> S3Access:
    """Keys and endpoint of the Airflow AWS connection."""
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
    )


def access_for(duckling: Duckling, run_id: str = "airflow", aws_conn_id: str = CONNECTIONS.aws) -> S3Access:
    """S3 access for this duckling: aws_default, or STS assume_role when the row names a role."""
    base = base_access(duckling.bucket_region, aws_conn_id)
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
