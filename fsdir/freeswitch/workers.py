"""Worker processes answering mod_xml_curl on the dedicated port (``FSDIR_XMLCURL_WORKERS``).

One Python process can't use more than one core; lookups are many and short, so N processes share
the port with SO_REUSEPORT (the kernel spreads connections over them). Each worker has its own
database engine and document cache. The API and the WebSocket stay in the main process, the only
writer: after each commit it bumps the generation counters in the shared file, and a worker checks
them on every hit (a memory read), so the very next lookup after a write's reply is fresh in every
worker. Workers are restarted if they die, and exit when the main process is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from fsdir.config import Settings
from fsdir.db.engine import create_engine
from fsdir.freeswitch.listener import XmlCurlListener, ssl_context
from fsdir.freeswitch.shared import SharedFile
from fsdir.freeswitch.xmlcurl import ROW_DOUBLES, build_endpoint

log = logging.getLogger("fsdir.xmlcurl")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 5.0


class WorkerPool:
    def __init__(self, settings: Settings, shared: SharedFile) -> None:
        self.settings = settings
        self.shared = shared
        self.processes: dict[int, BaseProcess] = {}
        self._context = multiprocessing.get_context("spawn")
        self._monitor: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start every worker and wait until each listens; raises if one can't."""
        try:
            await asyncio.gather(*(self._spawn(index) for index in range(1, self.settings.xmlcurl_workers + 1)))
        except BaseException:
            await self.close()
            raise
        self._monitor = asyncio.get_running_loop().create_task(self._watch())

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None
        for process in self.processes.values():
            if process.is_alive():
                process.terminate()
        for process in self.processes.values():
            await asyncio.to_thread(process.join, STOP_TIMEOUT)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join)
        self.processes.clear()

    async def _spawn(self, index: int) -> None:
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=run_worker,
            args=(self.settings, self.shared.path, self.shared.rows, index, os.getpid(), sender),
            name=f"fsdir-xmlcurl-{index}",
            daemon=True,
        )
        process.start()
        sender.close()
        self.processes[index] = process
        try:
            ready = await asyncio.to_thread(receiver.poll, START_TIMEOUT)
            message = receiver.recv() if ready else "no answer"
        except EOFError:
            message = "exited"
        finally:
            receiver.close()
        if message != "ready":
            raise RuntimeError(f"xml_curl worker {index} did not start: {message}")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for index, process in list(self.processes.items()):
                if not process.is_alive():
                    log.error("xml_curl worker %d exited (code %s): restarting it", index, process.exitcode)
                    try:
                        await self._spawn(index)
                    except RuntimeError as exc:
                        log.error("%s", exc)


def run_worker(settings: Settings, path: str, rows: int, index: int, parent: int, ready: Connection) -> None:
    """A worker process's body: serve until SIGTERM or until the main process is gone."""
    # Ctrl-C reaches the whole process group: the main process decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=settings.log_level, format=f"%(asctime)s %(levelname)s %(name)s[{index}]: %(message)s")
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(settings, path, rows, index, parent, ready))
    else:
        uvloop.run(_serve(settings, path, rows, index, parent, ready))


async def _serve(settings: Settings, path: str, rows: int, index: int, parent: int, ready: Connection) -> None:
    shared = SharedFile.attach(path, ROW_DOUBLES, rows)
    engine = create_engine(settings)
    endpoint = build_endpoint(settings, engine, shared.generations, shared.row(index))
    listener = XmlCurlListener(endpoint)
    try:
        await listener.start(settings.host, settings.xmlcurl_port, reuse_port=True, ssl_context=ssl_context(settings))
    except OSError as exc:
        ready.send(f"can't listen on {settings.host}:{settings.xmlcurl_port}: {exc.strerror}")
        await engine.dispose()
        return
    ready.send("ready")
    ready.close()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    while os.getppid() == parent and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    await listener.close()
    await endpoint.documents.close()
    await engine.dispose()
    shared.close()
