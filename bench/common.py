"""Helpers shared by the benchmarks: a generated directory, a server process, timing."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx2

PASSWORD = "bench-admin-password"


def directory_xml(domains: int, users_per_domain: int) -> str:
    """A FreeSWITCH directory document shaped like the vanilla one (params, variables per user)."""
    parts = ['<document type="freeswitch/xml">\n  <section name="directory">\n']
    for d in range(domains):
        name = f"d{d:04d}.example"
        parts.append(f'    <domain name="{name}">\n      <params>\n')
        parts.append(
            '        <param name="dial-string" value="{presence_id=${dialed_user}@${dialed_domain}}'
            '${sofia_contact(*/${dialed_user}@${dialed_domain})}"/>\n'
        )
        parts.append('      </params>\n      <variables>\n        <variable name="record_stereo" value="true"/>\n')
        parts.append("      </variables>\n      <users>\n")
        for u in range(users_per_domain):
            user = str(1000 + u)
            parts.append(
                f'        <user id="{user}">\n          <params>\n'
                f'            <param name="password" value="pw-{d}-{user}"/>\n'
                f'            <param name="vm-password" value="{user}"/>\n'
                "          </params>\n          <variables>\n"
                '            <variable name="user_context" value="default"/>\n'
                f'            <variable name="effective_caller_id_name" value="Extension {user}"/>\n'
                f'            <variable name="effective_caller_id_number" value="{user}"/>\n'
                f'            <variable name="accountcode" value="{user}"/>\n'
                "          </variables>\n        </user>\n"
            )
        parts.append("      </users>\n    </domain>\n")
    parts.append("  </section>\n</document>\n")
    return "".join(parts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fsdir_env(database: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "FSDIR_DATABASE_URL": f"sqlite:///{database}",
        "FSDIR_ADMIN_PASSWORD": PASSWORD,
        "FSDIR_ESL_HOST": "",
        "FSDIR_LOG_LEVEL": "WARNING",
        **extra,
    }


def run_fsdir(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fsdir", *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


class ServerProcess:
    def __init__(self, env: dict[str, str], port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([sys.executable, "-m", "fsdir", "serve"], env={**env, "FSDIR_PORT": str(port)})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("fsdir did not start")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def median_seconds(action: Callable[[], object], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)
