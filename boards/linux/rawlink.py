"""Raw Ethernet link on Linux through an AF_PACKET socket (CPython and MicroPython unix port).

``RawLink(iface)``: ``send(frame)`` sends one frame, ``await recv()`` returns a memoryview
of the next received frame in a preallocated buffer (valid until the next ``recv``).
Frames we sent ourselves are filtered out (PACKET_IGNORE_OUTGOING, plus the caller's
own source MAC in ``Stack.input``).

MicroPython note: the unix port's ``readinto``/``read`` on a socket loop until the buffer
is full, concatenating every queued packet, and it has no ``recv_into``; so there each
frame is taken with ``recv()`` (one bytes object per received frame, on the host only;
a device gets its frames from the SPI driver's preallocated buffers).
"""
import sys
import socket
import struct
import asyncio

_MP = sys.implementation.name == "micropython"
AF_PACKET = 17
_SOCK_RAW = 3
ETH_P_ALL = 0x0003
ETH_P_IPV6 = 0x86DD
ETH_P_HOMEPLUG = 0x88E1
_SOL_PACKET = 263
_PACKET_ADD_MEMBERSHIP = 1
_PACKET_MR_PROMISC = 1
_PACKET_IGNORE_OUTGOING = 23
_FRAME_MAX = 1518

if _MP:
    from asyncio import core as _core

    async def _readable(sock):
        # The same wait MicroPython's own asyncio streams use before a read.
        yield _core._io_queue.queue_read(sock)


def _htons(v):
    return ((v & 0xFF) << 8) | (v >> 8) if sys.byteorder == "little" else v


def _sysfs(iface, leaf):
    with open("/sys/class/net/%s/%s" % (iface, leaf)) as f:
        return f.read().strip()


def ifindex(iface):
    return int(_sysfs(iface, "ifindex"))


def if_mac(iface):
    """The interface's own MAC as 6 bytes."""
    return bytes(int(x, 16) for x in _sysfs(iface, "address").split(":"))


def sockaddr_ll(index, proto):
    """struct sockaddr_ll (20 bytes): family, protocol (network order), ifindex, then zeros."""
    return struct.pack("<H", AF_PACKET) + struct.pack(">H", proto) + struct.pack("<i", index) + bytes(12)


class RawLink:
    def __init__(self, iface, proto=ETH_P_ALL, promisc=False, bufsize=_FRAME_MAX):
        self.iface = iface
        self.index = ifindex(iface)
        self.sent = 0
        self.received = 0
        self.tx_errors = 0
        s = socket.socket(AF_PACKET, _SOCK_RAW, _htons(proto))
        if _MP:
            s.bind(sockaddr_ll(self.index, proto))
        else:
            s.bind((iface, proto))
        try:
            s.setsockopt(_SOL_PACKET, _PACKET_IGNORE_OUTGOING, 1)
        except (OSError, TypeError):
            pass  # kernels before 4.20: the stack drops frames from its own MAC anyway
        if promisc:
            # A real NIC would otherwise drop frames to a MAC that is not its own.
            mreq = struct.pack("<iHH8s", self.index, _PACKET_MR_PROMISC, 0, b"")
            s.setsockopt(_SOL_PACKET, _PACKET_ADD_MEMBERSHIP, mreq)
        s.setblocking(False)
        self.sock = s
        self.buf = bytearray(bufsize)
        self.mv = memoryview(self.buf)
        self._last = None

    def send(self, frame):
        """Send one frame; False (counted) if the kernel refused it."""
        try:
            self.sock.send(frame)
        except OSError:
            self.tx_errors += 1
            return False
        self.sent += 1
        return True

    def recv_nowait(self):
        """The next waiting frame as a memoryview, or None."""
        try:
            if _MP:
                data = self.sock.recv(len(self.buf))
                if not data:
                    return None
                self.received += 1
                return memoryview(data)
            n = self.sock.recv_into(self.buf)
        except OSError:
            return None
        if not n:
            return None
        self.received += 1
        return self.mv[:n]

    async def recv(self):
        """The next received frame (on CPython a memoryview into ``buf``)."""
        while True:
            if _MP:
                m = self.recv_nowait()
                if m is not None:
                    return m
                await _readable(self.sock)
            else:
                n = await asyncio.get_running_loop().sock_recv_into(self.sock, self.buf)
                if n:
                    self.received += 1
                    return self.mv[:n]

    async def run(self, handler):
        """Feed every received frame to ``handler(frame_mv)`` forever."""
        while True:
            handler(await self.recv())

    def close(self):
        self.sock.close()
