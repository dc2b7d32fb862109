"""pcapng writer (common subset: host tools and the simulator under either runtime).

``PcapngWriter(f)`` writes a section header and one Ethernet interface to the binary file
``f``; ``add(frame, t_us=None, comment=None)`` appends one frame as an Enhanced Packet
Block (timestamps in microseconds since the Unix epoch; default: now). tshark/Wireshark
open the file and dissect the HomePlug AV frames (ethertype 0x88E1, ``homeplug-av``).

``tap(medium, f)`` hooks a ``boards.sim.plc_medium.PlcMedium`` so every frame on the
simulated powerline is written with its virtual time.
"""
import struct

from lib import clock

_SHB = 0x0A0D0D0A
_IDB = 0x00000001
_EPB = 0x00000006
_MAGIC = 0x1A2B3C4D
_LINKTYPE_ETHERNET = 1
_OPT_COMMENT = 1
_SNAPLEN = 65535


def _pad(n):
    return (4 - n % 4) % 4


def _option(code, data):
    return struct.pack("<HH", code, len(data)) + data + b"\0" * _pad(len(data))


class PcapngWriter:
    def __init__(self, f, name=None):
        self.f = f
        self.count = 0
        opts = b""
        if name:
            opts = _option(2, name.encode()) + struct.pack("<HH", 0, 0)  # if_name, end
        body = struct.pack("<IHHq", _MAGIC, 1, 0, -1)
        total = 12 + len(body)
        f.write(struct.pack("<II", _SHB, total) + body + struct.pack("<I", total))
        body = struct.pack("<HHI", _LINKTYPE_ETHERNET, 0, _SNAPLEN) + opts
        total = 12 + len(body)
        f.write(struct.pack("<II", _IDB, total) + body + struct.pack("<I", total))

    def add(self, frame, t_us=None, comment=None):
        """Append one Ethernet frame (bytes-like)."""
        if t_us is None:
            t_us = now_us()
        data = bytes(frame)
        n = len(data)
        opts = b""
        if comment:
            opts = _option(_OPT_COMMENT, comment.encode()) + struct.pack("<HH", 0, 0)
        body = struct.pack("<IIIII", 0, (t_us >> 32) & 0xFFFFFFFF, t_us & 0xFFFFFFFF, n, n)
        body += data + b"\0" * _pad(n) + opts
        total = 12 + len(body)
        self.f.write(struct.pack("<II", _EPB, total) + body + struct.pack("<I", total))
        self.count += 1


_t0 = None


def now_us():
    """Wall-clock microseconds that follow lib.clock (virtual time in the simulator)."""
    global _t0
    if _t0 is None:
        _t0 = (clock.time_s() * 1000, clock.ticks_ms())
    return (_t0[0] + clock.ticks_diff(clock.ticks_ms(), _t0[1])) * 1000


def tap(medium, f, names=None, local=()):
    """Write every frame on ``medium`` to ``f``; returns the writer. ``names``: optional
    {modem or LocalModem: label} for a per-frame comment (who sent it). ``local``:
    ``boards.sim.hpgp_modem.LocalModem`` objects whose host <-> modem frames
    (CM_SET_KEY, CM_ATTEN_PROFILE.IND), which never cross the medium, go in too."""
    w = PcapngWriter(f, "plc")

    def on_frame(sender, frame):
        c = None
        if names is not None:
            c = names.get(sender)
        w.add(frame, comment=c)

    medium.add_tap(on_frame)
    for lm in local:
        lm.tap = on_frame
    return w


def read_frames(data):
    """(t_us, frame) of every Enhanced Packet Block in pcapng ``data`` (tests, tools)."""
    out = []
    i = 0
    while i + 12 <= len(data):
        btype, total = struct.unpack_from("<II", data, i)
        if total < 12 or i + total > len(data):
            raise ValueError("bad block at %d" % i)
        if btype == _EPB:
            _if, hi, lo, cap, _orig = struct.unpack_from("<IIIII", data, i + 8)
            out.append(((hi << 32) | lo, bytes(data[i + 28 : i + 28 + cap])))
        i += total
    return out
