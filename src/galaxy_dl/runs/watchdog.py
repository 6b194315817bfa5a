"""A heartbeat between the processes of a multi-process run, so that a lost peer ends the others with one line.

JAX notices a peer that hangs or a network that fails only through its own heartbeat, which aborts the process with
a C++ stack trace (exit 134), and a collective waiting on a frozen peer may wait far longer. The rendezvous
connections (process 0 and each other process) stay open for the whole training: every process says "beat" each
second; silence for ``--peer-timeout`` seconds, or a connection closed without "bye", means the peer is lost.
Process 0 tells the others which one ("lost K"), then every survivor reports it and leaves (exit 7), before JAX's
own heartbeat (given a longer timeout) would abort it. The watch runs in a thread: JAX releases the interpreter
while it computes or waits on a collective.
"""

import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Callable

from galaxy_dl.errors import PeerError

BEAT, BYE, LOST = b"beat", b"bye", b"lost"


class Watchdog:
    """Watches ``links`` (peer process id -> connected socket) from process ``me`` of ``n``."""

    def __init__(
        self,
        links: dict[int, socket.socket],
        me: int,
        n: int,
        timeout: float,
        on_lost: Callable[[PeerError], None] | None = None,
    ):
        self.links, self.me, self.n, self.timeout = dict(links), me, n, float(timeout)
        self.on_lost = on_lost or leave
        self.interval = min(1.0, self.timeout / 5)
        self.heard = {peer: time.monotonic() for peer in self.links}
        self.pending = dict.fromkeys(self.links, b"")
        self.finished: set[int] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="galaxy-dl peer watchdog", daemon=True)

    def start(self) -> "Watchdog":
        for link in self.links.values():
            link.setblocking(False)
        self.thread.start()
        return self

    def finish(self) -> None:
        """This process is done with its peers: say so, and stop watching."""
        self.stop.set()
        self.thread.join(timeout=5 * self.interval + 1)
        self._send_all(BYE)
        for link in self.links.values():
            link.close()

    def _watch(self) -> None:
        while not self.stop.is_set():
            self._send_all(BEAT)
            watched = [link for peer, link in self.links.items() if peer not in self.finished]
            readable = select.select(watched, [], [], self.interval)[0] if watched else []
            if self.stop.is_set():
                return
            for peer, link in self.links.items():
                if link in readable:
                    self._read(peer, link)
            if self.stop.is_set():  # a peer was lost while reading
                return
            now = time.monotonic()
            for peer in self.links:
                if peer not in self.finished and now - self.heard[peer] > self.timeout:
                    self._lost(
                        peer,
                        f"nothing heard from it for {self.timeout:g} s (--peer-timeout): it hung, "
                        "or the network between the processes failed",
                    )
                    return
            if not watched:
                self.stop.wait(self.interval)

    def _read(self, peer: int, link: socket.socket) -> None:
        try:
            data = link.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            if peer not in self.finished:
                self._lost(peer, "it ended before training did (it failed or was killed)")
            return
        self.heard[peer] = time.monotonic()
        *lines, self.pending[peer] = (self.pending[peer] + data).split(b"\n")
        for line in lines:
            if line == BYE:
                self.finished.add(peer)
            elif line.startswith(LOST + b" "):  # process 0 lost another peer
                self._lost(int(line.split()[1]), "process 0 lost contact with it", tell=False)
                return

    def _lost(self, peer: int, why: str, tell: bool = True) -> None:
        if tell and self.me == 0:
            self._send_all(LOST + b" %d" % peer, but=peer)
        self.stop.set()
        self.on_lost(PeerError(f"lost contact with process {peer} of {self.n}: {why}"))

    def _send_all(self, message: bytes, but: int | None = None) -> None:
        for peer, link in self.links.items():
            if peer != but:
                with contextlib.suppress(OSError):  # a full buffer or a closed link: the silence or EOF tells
                    link.send(message + b"\n", socket.MSG_DONTWAIT)


def leave(error: PeerError) -> None:
    """The reaction to a lost peer when none is given: one line on stderr, exit 7 at once (JAX's shutdown would
    wait for the lost peer)."""
    os.write(2, f"galaxy-dl: error: {error}\n".encode())
    os._exit(int(error.exit_status))
