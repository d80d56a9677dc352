"""mod_xml_curl in the running server: the endpoint of the main port, the optional dedicated port
(served by this process, or by worker processes), invalidation after every write, and metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from fsdir.directory.changes import ChangeNotice
from fsdir.freeswitch.listener import XmlCurlListener, ssl_context
from fsdir.freeswitch.lookup import KIND_LABELS, OUTCOME_LABELS
from fsdir.freeswitch.shared import SharedFile
from fsdir.freeswitch.workers import WorkerPool
from fsdir.freeswitch.xmlcurl import ROW_DOUBLES, Endpoint, build_endpoint
from fsdir.metrics import LookupCollector
from fsdir.runtime import Runtime


class XmlCurlService:
    def __init__(
        self,
        endpoint: Endpoint,
        shared: SharedFile | None,
        listener: XmlCurlListener | None,
        workers: WorkerPool | None,
    ) -> None:
        self.endpoint = endpoint
        self.shared = shared
        self.listener = listener
        self.workers = workers

    @classmethod
    async def start(cls, runtime: Runtime, registry: CollectorRegistry) -> XmlCurlService:
        settings = runtime.settings
        shared = None
        if settings.xmlcurl_port and settings.xmlcurl_workers:
            shared = SharedFile.create(ROW_DOUBLES, settings.xmlcurl_workers + 1)
            endpoint = build_endpoint(settings, runtime.engine, shared.generations, shared.row(0))
        else:
            endpoint = build_endpoint(settings, runtime.engine)
        generations = endpoint.documents.cache.generations

        def invalidate(changes: ChangeNotice) -> None:
            generations.bump(changes.domains | {domain for _, domain in changes.users})

        # First of the listeners: the documents are stale before anyone is told about the change.
        runtime.change_listeners.insert(0, invalidate)
        row = endpoint.metrics.row
        registry.register(
            LookupCollector(KIND_LABELS, OUTCOME_LABELS, shared.all_rows if shared is not None else lambda: [row])
        )
        service = cls(endpoint, shared, None, None)
        try:
            if settings.xmlcurl_port and shared is not None:
                service.workers = WorkerPool(settings, shared)
                await service.workers.start()
            elif settings.xmlcurl_port:
                service.listener = XmlCurlListener(endpoint)
                await service.listener.start(settings.host, settings.xmlcurl_port, ssl_context=ssl_context(settings))
        except BaseException:
            await service.close()
            raise
        return service

    async def close(self) -> None:
        if self.listener is not None:
            await self.listener.close()
        await self.endpoint.documents.close()
        if self.workers is not None:
            await self.workers.close()
        if self.shared is not None:
            self.shared.close()
