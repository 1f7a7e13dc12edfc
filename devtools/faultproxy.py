"""A fault-injecting TCP proxy for an S3 endpoint on loopback (tests only).

Sits in front of the moto server. ``signers`` lists, per request seen, the access key id its SigV4
``Authorization`` header names ("" for an unsigned request): how a test learns which credentials a
client really used. ``inject(mode, count)`` makes the next ``count`` connections fail:
``503`` (an S3 SlowDown answer), ``500`` (InternalError), ``reset`` (the connection is reset) or
``stall`` (nothing is answered until the client gives up); other connections are piped through. Arming
a fault also closes the open connections, so pooled clients must reconnect and meet it.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import threading
from dataclasses import dataclass, field

ERRORS = {
    "503": ("503 Slow Down", "SlowDown", "Please reduce your request rate."),
    "500": (
        "500 Internal Server Error",
        "InternalError",
        "We encountered an internal error. Please try again.",
    ),
}

_REQUEST_HEAD = re.compile(rb"(?:GET|PUT|POST|HEAD|DELETE) \S+ HTTP/1\.[01]\r\n.*?\r\n\r\n", re.DOTALL)
_SIGNER = re.compile(rb"(?i)\r\nauthorization: AWS4-HMAC-SHA256 Credential=([^/]+)/")


@dataclass
class FaultProxy:
    upstream_port: int
    port: int = 0
    mode: str | None = None
    remaining: int = 0
    served_faults: int = 0
    connections: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None
    _writers: set = field(default_factory=set)
    signers: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        threading.Thread(target=run, daemon=True, name="fault-proxy").start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)

    async def _shutdown(self) -> None:
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def inject(self, mode: str | None, count: int = 1) -> None:
        with self._lock:
            self.mode, self.remaining = mode, count
        if self._loop:
            for writer in list(self._writers):
                self._loop.call_soon_threadsafe(writer.close)

    def heal(self) -> None:
        self.inject(None, 0)

    def _take_fault(self) -> str | None:
        with self._lock:
            self.connections += 1
            if self.mode and self.remaining > 0:
                self.remaining -= 1
                self.served_faults += 1
                return self.mode
            return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fault = self._take_fault()
        try:
            if fault is not None:
                await self._fail(fault, reader, writer)
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            self._writers.update({writer, up_writer})
            await asyncio.gather(self._pipe(reader, up_writer, sniff=True), self._pipe(up_reader, writer))
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _fail(self, fault: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)  # the request head
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        if fault == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close
        elif fault == "stall":
            await asyncio.sleep(120)
        else:
            status, code, message = ERRORS[fault]
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault</RequestId></Error>"
            ).encode()
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            writer.write(head + body)
            await writer.drain()

    def _sniff(self, data: bytes) -> None:
        for head in _REQUEST_HEAD.finditer(data):
            auth = _SIGNER.search(head.group(0))
            with self._lock:
                self.signers.append(auth.group(1).decode() if auth else "")

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sniff: bool = False
    ) -> None:
        try:
            while data := await reader.read(65536):
                if sniff:
                    self._sniff(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
