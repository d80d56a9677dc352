"""Event API at scale: 100,000 users in 1,000 domains on SQLite.

Prints the time to import the directory from one XML file (``fsdir import``), ``Add_new_user``
with ``bulk=100``, and ``Get_users`` unpaged and paged (``limit=100``) with reply sizes; plus, as
a reference measured in the same run, a bare ``sqlite3`` bulk insert of the same rows.

    .venv/bin/python -m bench.api [--domains 1000] [--users 100]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2

from bench.common import PASSWORD, ServerProcess, directory_xml, free_port, fsdir_env, median_seconds, run_fsdir


def reference_insert_seconds(path: Path, domains: int, users: int) -> float:
    """Plain sqlite3: the same number of user, param and variable rows, no parsing, no checks."""
    db = sqlite3.connect(path)
    db.executescript(
        "PRAGMA journal_mode=WAL; CREATE TABLE u(id INTEGER PRIMARY KEY, d INT, name TEXT);"
        "CREATE TABLE e(id INTEGER PRIMARY KEY, u INT, name TEXT, value TEXT);"
    )
    started = time.perf_counter()
    with db:
        user_rows = [(d, str(1000 + n)) for d in range(domains) for n in range(users)]
        db.executemany("INSERT INTO u(d, name) VALUES (?, ?)", user_rows)
        entry_rows = [(i, f"name{k}", "value") for i in range(1, len(user_rows) + 1) for k in range(6)]
        db.executemany("INSERT INTO e(u, name, value) VALUES (?, ?, ?)", entry_rows)
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    args = parser.parse_args()
    total = args.domains * args.users
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "directory.xml"
        source.write_text(directory_xml(args.domains, args.users))
        env = fsdir_env(work / "fsdir.db")
        run_fsdir(["migrate"], env)
        import_seconds = run_fsdir(["import", str(source)], env)
        reference = reference_insert_seconds(work / "reference.db", args.domains, args.users)
        print(f"directory: {total:,} users in {args.domains:,} domains ({source.stat().st_size / 1e6:.1f} MB XML)")
        print(f"import (fsdir import FILE): {import_seconds:.2f} s   target <= 30 s")
        print(
            f"  reference bare sqlite3 insert of the same rows: {reference:.2f} s"
            f" (ratio {import_seconds / reference:.1f}x)"
        )

        server = ServerProcess(env, free_port())
        try:
            with httpx2.Client(base_url=server.url, timeout=120) as http:

                def call(event: str, data: dict[str, Any]) -> httpx2.Response:
                    response = http.post("/api/v1", json={"event": event, "data": {"token": token, **data}})
                    response.raise_for_status()
                    assert "error" not in response.json(), response.text[:200]
                    return response

                credentials = {"login": "admin", "password": PASSWORD}
                login = http.post("/api/v1", json={"event": "login", "data": credentials})
                token = login.json()["token"]
                counter = iter(range(10**6))

                def bulk() -> None:
                    domain = call("[Domains][Add] Domain", {"name": f"bulk{next(counter)}.example"}).json()
                    domain_id = int(next(iter(domain["domains"])))
                    started = time.perf_counter()
                    call("[Users] Add_new_user", {"id": domain_id, "name": "5000", "bulk": 100})
                    timings.append(time.perf_counter() - started)

                timings: list[float] = []
                for _ in range(5):
                    bulk()
                timings.sort()
                print(
                    f"Add_new_user bulk=100: {timings[len(timings) // 2] * 1000:.0f} ms (median of 5)"
                    "   target <= 500 ms"
                )

                size = len(call("[Users] Get_users", {}).content)
                unpaged = median_seconds(lambda: call("[Users] Get_users", {}), 3)
                print(f"Get_users unpaged: {unpaged:.2f} s, {size / 1e6:.1f} MB   target <= 3 s")
                paged_size = len(call("[Users] Get_users", {"limit": 100, "offset": 50_000}).content)
                paged = median_seconds(lambda: call("[Users] Get_users", {"limit": 100, "offset": 50_000}), 20)
                print(f"Get_users limit=100: {paged * 1000:.1f} ms, {paged_size / 1e3:.1f} kB   target <= 50 ms")
                print(f"server RSS after the run: {server.rss_mb():.0f} MB")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
