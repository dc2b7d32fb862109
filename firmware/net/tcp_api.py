"""The application's side of TCP: ``Conn`` (an accepted connection) and ``Listener``."""
import asyncio
from firmware.net.tcb import CLOSED, ESTABLISHED, CLOSE_WAIT, TcpError


class Conn:
    """The application's handle on an accepted connection (stays valid after the slot is reused)."""

    def __init__(self, tcp, tcb):
        self._tcp = tcp
        self._tcb = tcb
        self._gen = tcb.gen
        tcb.handle_open = True

    def _live(self):
        t = self._tcb
        return t if t.gen == self._gen else None

    @property
    def state(self):
        t = self._live()
        return t.state if t else CLOSED

    @property
    def error(self):
        t = self._live()
        return t.error if t else "replaced"

    def peer(self):
        """(address bytes, port) of the remote end."""
        t = self._tcb
        return bytes(t.rip), t.rport

    def at_eof(self):
        """True when no more data will come (peer FIN read, reset, closed)."""
        t = self._live()
        return t is None or (t.rx_count == 0 and (t.eof or t.state == CLOSED))

    def available(self):
        t = self._live()
        return t.rx_count if t else 0

    def recv_into(self, mv, n=-1):
        """Copy up to ``n`` (default len(mv)) buffered bytes into mv; returns the count (0 if none)."""
        t = self._live()
        if t is None or t.rx_count == 0:
            return 0
        if n < 0 or n > len(mv):
            n = len(mv)
        if n > t.rx_count:
            n = t.rx_count
        size = len(t.rxbuf)
        first = size - t.rx_head
        if first >= n:
            mv[0:n] = t.rxmv[t.rx_head:t.rx_head + n]
        else:
            mv[0:first] = t.rxmv[t.rx_head:size]
            mv[first:n] = t.rxmv[0:n - first]
        t.rx_head = (t.rx_head + n) % size
        t.rx_count -= n
        self._tcp._window_update(t)
        return n

    def send(self, data, off=0, n=-1, push=True):
        """Queue bytes for sending; returns how many fit (0 when full). Raises TcpError if closed.

        ``push=False`` only queues (more follows at once: header and body in one segment).
        """
        t = self._live()
        if t is None or t.fin_queued or t.state not in (ESTABLISHED, CLOSE_WAIT):
            raise TcpError("connection closed (%s)" % (self.error or "closed"))
        if n < 0:
            n = len(data) - off
        if not isinstance(data, memoryview):
            data = memoryview(data)  # slices below then copy nothing
        free = t.tx_free()
        if n > free:
            n = free
        if n <= 0:
            return 0
        size = len(t.txbuf)
        pos = (t.tx_head + t.tx_count) % size
        first = size - pos
        if first >= n:
            t.txmv[pos:pos + n] = data[off:off + n]
        else:
            t.txmv[pos:size] = data[off:off + first]
            t.txmv[0:n - first] = data[off + first:off + n]
        t.tx_count += n
        if push:
            self._tcp._output(t)
        return n

    async def wait(self):
        """Until something changes on this connection (data, space, state)."""
        t = self._tcb
        t.ev.clear()
        await t.ev.wait()

    async def read_into(self, mv, n=-1):
        """At least one byte (returns the count) or 0 at end of stream / error."""
        while True:
            got = self.recv_into(mv, n)
            if got or self.at_eof():
                return got
            await self.wait()

    async def read_exactly(self, mv, n):
        """Fill mv[:n]; False when the stream ends first."""
        got = 0
        while got < n:
            k = self.recv_into(mv[got:n])
            if k:
                got += k
                continue
            if self.at_eof():
                return False
            await self.wait()
        return True

    async def write(self, data, off=0, n=-1, push=True):
        """Queue all of data (waiting for ring space); raises TcpError if the connection dies."""
        if n < 0:
            n = len(data) - off
        end = off + n
        while off < end:
            k = self.send(data, off, end - off, push)
            off += k
            if off < end:
                if not push:
                    self._tcp._output(self._tcb)  # ring full: what is queued must go now
                await self.wait()

    async def drain(self):
        """Until everything queued has been acknowledged (or the connection died)."""
        while True:
            t = self._live()
            if t is None or t.tx_count == 0 or t.state == CLOSED:
                return
            await self.wait()

    def close(self):
        """Graceful close: FIN after the queued data. The handle is done afterwards."""
        t = self._live()
        if t is not None:
            t.handle_open = False
            self._tcp._close(t)

    def abort(self):
        """Reset the connection at once."""
        t = self._live()
        if t is not None:
            t.handle_open = False
            if t.state != CLOSED:
                self._tcp._abort(t, "aborted", True)


class Listener:
    def __init__(self, tcp, port):
        self._tcp = tcp
        self.port = port
        self.ev = asyncio.Event()

    def accept_nowait(self):
        """An established, not yet accepted connection on this port, or None."""
        for t in self._tcp.tcbs:
            if t.lport == self.port and not t.accepted and t.state >= ESTABLISHED:
                t.accepted = True
                return Conn(self._tcp, t)
        return None

    async def accept(self):
        while True:
            c = self.accept_nowait()
            if c is not None:
                return c
            self.ev.clear()
            await self.ev.wait()
