"""mod_xml_curl under load: fsdir against nginx serving one static answer, in the same run.

Builds directories of 100,000 users in 1,000 domains and of 1,000 users in 10 domains on SQLite
(``fsdir import``, fsdir's bulk importer), runs ``fsdir serve`` as a separate process, warms its
document cache, checks a sample of answers, then loads it as mod_xml_curl does: the recorded
``sip_auth`` request body for random users, a new connection per request (``Connection: close``),
32 connections for 10 s (wrk). Prints requests/s, p50, p99 and the server's RSS (with its worker
processes), nginx's figures for one rendered answer served as a static file, and the ratios.

    .venv/bin/python -m bench.xmlcurl                      # the dedicated port, in the main process
    .venv/bin/python -m bench.xmlcurl --mode workers --workers 2
    .venv/bin/python -m bench.xmlcurl --mode main          # /freeswitch/directory on the API port

Needs wrk and nginx (installed with apt-get when run as root).
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2

from bench.common import directory_xml, free_port, fsdir_env, run_fsdir
from bench.loadgen import LoadResult, Nginx, request_body, require_tools, run_wrk, tree_rss_mb, write_script
from fsdir.freeswitch.xmlcurl import PATH

WARM_UP_LIMIT = 900.0  # seconds
SAMPLE = 50


@dataclass(frozen=True)
class Run:
    label: str
    users: int
    load: LoadResult
    rss_mb: float
    hit_ratio: float


class Server:
    """``fsdir serve`` on a directory, lookups on the dedicated port or the main one."""

    def __init__(self, database: Path, mode: str, workers: int) -> None:
        self.port = free_port()
        extra = {"FSDIR_PORT": str(self.port)}
        lookup_port = self.port
        if mode != "main":
            lookup_port = free_port()
            extra["FSDIR_XMLCURL_PORT"] = str(lookup_port)
            extra["FSDIR_XMLCURL_WORKERS"] = str(workers if mode == "workers" else 0)
        self.lookup_url = f"http://127.0.0.1:{lookup_port}{PATH}"
        self.process = subprocess.Popen([sys.executable, "-m", "fsdir", "serve"], env=fsdir_env(database, **extra))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    httpx2.post(self.lookup_url, content=b"section=dialplan", timeout=5)
                    return
            except httpx2.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("fsdir did not start")

    def metric(self, name: str) -> float:
        text = httpx2.get(f"http://127.0.0.1:{self.port}/metrics", timeout=10).text
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def build(directory: Path, domains: int, users: int) -> Path:
    database = directory / f"fsdir-{domains * users}.db"
    source = directory / f"directory-{domains * users}.xml"
    source.write_text(directory_xml(domains, users))
    env = fsdir_env(database)
    run_fsdir(["migrate"], env)
    seconds = run_fsdir(["import", str(source)], env)
    print(f"built {domains * users:,} users in {domains:,} domains in {seconds:.1f} s", flush=True)
    return database


def warm_up(server: Server, script: Path, total: int, processes: int, connections: int) -> None:
    """Ask for every user in turn until each process serving lookups has them all cached."""
    started = time.monotonic()
    wrk = subprocess.Popen(
        ["wrk", "-t1", f"-c{connections}", f"-d{WARM_UP_LIMIT:g}s", "-s", str(script), server.lookup_url],
        stdout=subprocess.DEVNULL,
    )
    try:
        while time.monotonic() - started < WARM_UP_LIMIT and wrk.poll() is None:
            time.sleep(2)
            if server.metric("fsdir_xmlcurl_cache_entries") >= total * processes * 0.999:
                break
    finally:
        wrk.send_signal(signal.SIGINT)
        wrk.wait()
    entries = server.metric("fsdir_xmlcurl_cache_entries")
    print(f"  warm-up: {entries:,.0f} documents cached in {time.monotonic() - started:.0f} s", flush=True)


def check_answers(url: str, domains: int, users: int) -> None:
    """A sample of answers must hold the asked user with its password (the benchmark's directory)."""
    for _ in range(SAMPLE):
        d, u = random.randrange(domains), 1000 + random.randrange(users)
        answer = httpx2.post(url, content=request_body(f"d{d:04d}.example", str(u)), timeout=10).content
        if f'<user id="{u}">'.encode() not in answer or f'value="pw-{d}-{u}"'.encode() not in answer:
            raise RuntimeError(f"wrong answer for {u}@d{d:04d}.example")


def measure(database: Path, domains: int, users: int, args: argparse.Namespace, work: Path) -> tuple[Run, bytes]:
    processes = args.workers if args.mode == "workers" else 1
    server = Server(database, args.mode, args.workers)
    try:
        sweep = write_script(work / "sweep.lua", domains, users, sweep=True)
        warm_up(server, sweep, domains * users, processes, args.connections)
        check_answers(server.lookup_url, domains, users)
        script = write_script(work / "random.lua", domains, users, sweep=False)
        hits, misses = (
            server.metric("fsdir_xmlcurl_cache_hits_total"),
            server.metric("fsdir_xmlcurl_cache_misses_total"),
        )
        load = run_wrk(server.lookup_url, script, seconds=args.seconds, connections=args.connections)
        hits = server.metric("fsdir_xmlcurl_cache_hits_total") - hits
        misses = server.metric("fsdir_xmlcurl_cache_misses_total") - misses
        rss = tree_rss_mb(server.process.pid)
        answer = httpx2.post(server.lookup_url, content=request_body("d0000.example", "1000"), timeout=10).content
    finally:
        server.stop()
    label = f"fsdir ({args.mode}{f', {args.workers} workers' if args.mode == 'workers' else ''})"
    return Run(label, domains * users, load, rss, hits / max(hits + misses, 1)), answer


def show(run: Run) -> None:
    load = run.load
    print(
        f"{run.label:<28} {run.users:>8,} users  {load.rate:>9,.0f} req/s  p50 {load.p50_ms:6.2f} ms"
        f"  p99 {load.p99_ms:6.2f} ms  RSS {run.rss_mb:6.0f} MB  hits {run.hit_ratio:6.1%}  errors {load.errors}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["dedicated", "workers", "main"], default="dedicated")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100, help="users per domain")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    require_tools()
    with tempfile.TemporaryDirectory(prefix="fsdir-bench-") as tmp:
        work = Path(tmp)
        small_domains = max(1, args.domains // 100)
        big = build(work, args.domains, args.users)
        small = build(work, small_domains, args.users)
        big_run, answer = measure(big, args.domains, args.users, args, work)
        show(big_run)
        small_run, _ = measure(small, small_domains, args.users, args, work)
        show(small_run)
        nginx = Nginx(Path(tempfile.mkdtemp(prefix="fsdir-bench-nginx-")), free_port(), answer)
        try:
            script = write_script(work / "random.lua", args.domains, args.users, sweep=False)
            run_wrk(nginx.url, script, seconds=2, connections=args.connections)
            nginx_load = run_wrk(nginx.url, script, seconds=args.seconds, connections=args.connections)
            nginx_rss = tree_rss_mb(nginx.process.pid)
        finally:
            nginx.stop()
        show(Run("nginx (static answer)", 1, nginx_load, nginx_rss, 1.0))
    print()
    print(f"fsdir / nginx, same run:         {big_run.load.rate / nginx_load.rate:.2f}   (target >= 0.5)")
    print(
        f"{small_run.users:,} vs {big_run.users:,} users:     {big_run.load.rate / small_run.load.rate:.2f}"
        "   (target within 10 %)"
    )
    print(f"p99 at {big_run.users:,} users:           {big_run.load.p99_ms:.2f} ms (target <= 10 ms)")
    print(f"RSS at {big_run.users:,} users:           {big_run.rss_mb:.0f} MB (target <= 300 MB)")


if __name__ == "__main__":
    main()
