"""Load generation for the mod_xml_curl benchmark: wrk with a Lua script, nginx as the yardstick.

wrk and nginx are Debian packages (``apt-get install wrk nginx-light``); ``require_tools``
installs them when it can (root with apt-get), and otherwise says what is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2

from fsdir.freeswitch.xmlcurl import PATH

RECORDINGS = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "freeswitch" / "xml_curl_requests.jsonl"
# The recorded REGISTER digest lookup (user 2000 of xmlcurl.test) used as the request template.
TEMPLATE_SEQ = 6
_DOMAIN_MARK, _USER_MARK = "\x00D", "\x00U"

_LUA = """
local pieces = {%(pieces)s}
local ndom, nuser, sweep = %(domains)d, %(users)d, %(sweep)s
local counter = 0
local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["Connection"] = "close",
                 ["User-Agent"] = "freeswitch-xml/1.0", ["Accept"] = "*/*"}

function init(args)
  math.randomseed(os.time())
end

function request()
  local d, u
  if sweep then
    d = math.floor(counter / nuser) %% ndom
    u = counter %% nuser
    counter = counter + 1
  else
    d = math.random(0, ndom - 1)
    u = math.random(0, nuser - 1)
  end
  local domain, user = string.format("d%%04d.example", d), tostring(1000 + u)
  local parts = {}
  for i, piece in ipairs(pieces) do
    if piece == "\\0D" then parts[i] = domain elseif piece == "\\0U" then parts[i] = user else parts[i] = piece end
  end
  return wrk.format("POST", "%(path)s", headers, table.concat(parts))
end

function done(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, "errors": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
      + summary.errors.timeout))
end
"""

_NGINX = """
daemon off;
worker_processes auto;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %(dir)s/body;
  proxy_temp_path %(dir)s/proxy;
  fastcgi_temp_path %(dir)s/fastcgi;
  uwsgi_temp_path %(dir)s/uwsgi;
  scgi_temp_path %(dir)s/scgi;
  server {
    listen 127.0.0.1:%(port)d;
    root %(dir)s;
    default_type text/xml;
    location = %(path)s {
      try_files /answer.xml =404;
      # The static handler refuses POST: answer it as a GET of the file.
      error_page 405 =200 /answer.xml;
    }
  }
}
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def require_tools() -> None:
    missing = [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"installing {', '.join(missing)} (apt-get)...", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        packages = ["wrk" if tool == "wrk" else "nginx-light" for tool in missing]
        subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, stdout=subprocess.DEVNULL)
        return
    raise SystemExit(f"this benchmark needs {' and '.join(missing)}: apt-get install wrk nginx-light")


def template_body() -> str:
    for line in RECORDINGS.read_text().splitlines():
        record = json.loads(line)
        if record.get("seq") == TEMPLATE_SEQ:
            body: str = record["request"]["body"]
            return body
    raise RuntimeError(f"no request {TEMPLATE_SEQ} in {RECORDINGS}")


def request_body(domain: str, user: str) -> str:
    return template_body().replace("xmlcurl.test", domain).replace("2000", user)


def write_script(path: Path, domains: int, users: int, *, sweep: bool) -> Path:
    """A wrk script POSTing the recorded body for random (or, with ``sweep``, successive) users."""
    marked = template_body().replace("xmlcurl.test", _DOMAIN_MARK).replace("2000", _USER_MARK)
    first, *rest = marked.split("\x00")
    pieces = [f"[==[{first}]==]"]
    for chunk in rest:
        pieces.append(f'"\\0{chunk[0]}"')
        if chunk[1:]:
            pieces.append(f"[==[{chunk[1:]}]==]")
    path.write_text(
        _LUA
        % {
            "pieces": ", ".join(pieces),
            "domains": domains,
            "users": users,
            "sweep": "true" if sweep else "false",
            "path": PATH,
        }
    )
    return path


def run_wrk(url: str, script: Path, *, seconds: float, connections: int, threads: int = 1) -> LoadResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), url]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    data = json.loads(line.removeprefix("RESULT "))
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=data["errors"],
    )


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (the xml_curl workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        pending.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class Nginx:
    """nginx as our own process, on a free port, serving one rendered answer to any POST."""

    def __init__(self, directory: Path, port: int, answer: bytes) -> None:
        self.url = f"http://127.0.0.1:{port}{PATH}"
        self.directory = directory
        # Started as root, nginx's workers run as an unprivileged user: they must read the answer.
        directory.chmod(0o755)
        (directory / "answer.xml").write_bytes(answer)
        (directory / "answer.xml").chmod(0o644)
        config = directory / "nginx.conf"
        config.write_text(_NGINX % {"dir": directory, "port": port, "path": PATH})
        self.process = subprocess.Popen(
            ["nginx", "-c", str(config), "-p", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                response = httpx2.post(self.url, content=b"section=directory", timeout=1)
                if response.status_code == 200 and response.content == answer:
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.1)
        log = (directory / "error.log").read_text() if (directory / "error.log").exists() else ""
        self.stop()
        raise RuntimeError(f"nginx did not start: {log}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)
