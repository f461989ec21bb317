"""Make sure the database DATABASE_URL names is reachable (and exists, for PostgreSQL).

Starts the machine's PostgreSQL cluster when it is installed but not running, and fails with a
message naming the service when it cannot be reached.
"""

import os
import shutil
import subprocess
import sys
import time
from urllib.parse import urlsplit


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print(f"ensure_database: {url or 'SQLite'} needs no server")
        return 0
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "postgres"
    admin_url = parts._replace(path="/postgres").geturl()
    if not _reachable(psycopg, admin_url):
        _start_postgres()
        if not _wait(psycopg, admin_url):
            print(
                f"PostgreSQL at {parts.hostname}:{parts.port or 5432} is not reachable",
                file=sys.stderr,
            )
            return 1
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"ensure_database: created database {name}")
    return 0


def _reachable(psycopg, url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=3).close()
        return True
    except psycopg.OperationalError:
        return False


def _wait(psycopg, url: str) -> bool:
    for _ in range(30):
        if _reachable(psycopg, url):
            return True
        time.sleep(1)
    return False


def _start_postgres() -> None:
    pg_ctlcluster = shutil.which("pg_ctlcluster")
    if not pg_ctlcluster or not os.path.isdir("/etc/postgresql"):
        return
    for version in sorted(os.listdir("/etc/postgresql")):
        print(f"ensure_database: starting PostgreSQL {version}")
        subprocess.run(  # noqa: S603 - fixed command, version from the local config folder
            [pg_ctlcluster, "--skip-systemctl-redirect", version, "main", "start"], check=False
        )


if __name__ == "__main__":
    sys.exit(main())
