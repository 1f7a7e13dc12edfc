"""Real services on loopback for tests and the embedded demo: PostgreSQL and the moto S3/STS server.

There is no Docker engine here, so the project starts Debian's PostgreSQL binaries (``initdb`` into a
temporary directory, as the ``postgres`` user when running as root) and ``moto_server``. Each server
is stopped by its PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PG_BIN_CANDIDATES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not start within {timeout:.0f}s")


def pg_bin_dir() -> Path:
    for candidate in PG_BIN_CANDIDATES:
        if (candidate / "initdb").exists() and (candidate / "postgres").exists():
            return candidate
    raise RuntimeError(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
        "install Debian's package: apt-get install -y postgresql"
    )


@dataclass
class PostgresServer:
    data_dir: Path
    port: int
    user: str = "postgres"
    host: str = "127.0.0.1"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={database}"

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))

    def stop(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().splitlines()[0])
            try:
                os.kill(pid, signal.SIGINT)  # fast shutdown
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)


def start_postgres(base_dir: Path, tls: tuple[Path, Path] | None = None) -> PostgresServer:
    """initdb a throwaway cluster in ``base_dir`` and start it on a free loopback port.

    ``tls``: (certificate, key) files: the server speaks TLS only (``hostssl`` rules; a plain
    connection is refused), so whatever connects to it proves it used TLS."""
    bin_dir = pg_bin_dir()
    base_dir.mkdir(parents=True, exist_ok=True)
    data_dir = base_dir / "pgdata"
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base_dir, "postgres")
        os.chmod(base_dir, 0o755)
        # every parent must be traversable by the postgres user
        for parent in base_dir.parents:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)
    subprocess.run(
        [
            *run_as,
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    port = free_port()
    options = f"-p {port} -k {base_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    if tls:
        cert, key = (shutil.copy(p, base_dir / p.name) for p in tls)  # the server's own copies (0600)
        for path in (cert, key):
            os.chmod(path, 0o600)
            if run_as:
                shutil.chown(path, "postgres")
        (data_dir / "pg_hba.conf").write_text(
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n"
        )
        options += f" -c ssl=on -c ssl_cert_file={cert} -c ssl_key_file={key}"
    subprocess.run(
        [
            *run_as,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-l",
            str(base_dir / "postgres.log"),
            "-w",
            "-o",
            options,
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    server = PostgresServer(data_dir=data_dir, port=port)

    def ready() -> bool:
        import psycopg

        with psycopg.connect(server.conninfo(), connect_timeout=2):
            return True

    _wait_for(ready, "PostgreSQL")
    return server


@dataclass
class S3Server:
    process: subprocess.Popen
    port: int
    access_key: str = "testing"
    secret_key: str = "testing"
    region: str = "us-east-1"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str = "s3", **kw):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=kw.get("key", self.access_key),
            aws_secret_access_key=kw.get("secret", self.secret_key),
            aws_session_token=kw.get("token"),
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_moto(log_path: Path | None = None, env: dict[str, str] | None = None) -> S3Server:
    """Start ``moto_server`` (S3 + STS) on a free loopback port."""
    port = free_port()
    exe = Path(sys.executable).parent / "moto_server"
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    server = S3Server(process=proc, port=port)

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError("moto_server exited")
        with urllib.request.urlopen(f"{server.endpoint}/moto-api/", timeout=2):
            return True

    _wait_for(ready, "moto_server")
    return server


@dataclass
class RedisServer:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_redis(log_path: Path | None = None) -> RedisServer:
    """Debian's ``redis-server`` on a free loopback port, in memory only (the Celery broker)."""
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(exe).exists():
        raise RuntimeError("redis-server not found: install Debian's redis-server (make system-deps does it)")
    port = free_port()
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    server = RedisServer(process=proc, port=port)

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError("redis-server exited")
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    _wait_for(ready, "redis-server")
    return server
