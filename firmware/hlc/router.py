"""The receive side of one Ethernet link shared by SLAC and the IPv6 stack.

``FrameRouter.on_frame(buf, n)`` is the link's receive callback (the QCA7000 driver's
signature; ``on_mv(mv)`` for ``RawLink.run``): HomePlug (0x88E1, also behind one 802.1Q
tag) goes to ``slac.on_frame(buf, n)``, IPv6 (0x86DD) to ``stack.input(buf)``; anything
else, a short frame or a truncated IPv6 packet is counted and dropped. Nothing is
allocated per frame: when the driver hands a buffer longer than the frame, the IPv6
length is checked here and the stack gets the buffer itself (it bounds everything by the
IPv6 payload length). Kept apart from ``link.py`` so it imports nothing.
"""
from micropython import const

_ETH_HDR = const(14)
_IP_HDR_END = const(54)  # Ethernet 14 + IPv6 40
_ET_IPV6 = const(0x86DD)
_ET_HPAV = const(0x88E1)
_ET_VLAN = const(0x8100)

STAT_NAMES = ("rx", "slac", "ipv6", "short", "ip_short", "ip_truncated", "bad_len",
              "other", "ip_closed", "slac_off")


class FrameRouter:
    """Routes received frames by Ethertype; ``stats`` counts every outcome.

    ``ip_open``: IPv6 frames reach the stack only while True (the link is matched).
    ``on_first_ip``: called once for the first IPv6 frame after ``ip_open`` went True.
    """

    def __init__(self, slac=None, stack=None):
        self.slac = slac
        self.stack = stack
        self.ip_open = slac is None
        self.on_first_ip = None
        self._seen_ip = False
        self.stats = {}
        for k in STAT_NAMES:
            self.stats[k] = 0

    def open_ip(self, on):
        self.ip_open = on
        self._seen_ip = False

    def on_mv(self, mv):
        """Receive callback for links that hand exact-length memoryviews (RawLink)."""
        self.on_frame(mv, len(mv))

    def on_frame(self, buf, n):
        """One received frame ``buf[0:n]``; never raises for bad input."""
        st = self.stats
        st["rx"] += 1
        if n < 0 or n > len(buf):
            st["bad_len"] += 1
            return
        if n < _ETH_HDR:
            st["short"] += 1
            return
        et = (buf[12] << 8) | buf[13]
        if et == _ET_VLAN and n >= _ETH_HDR + 4:
            if ((buf[16] << 8) | buf[17]) == _ET_HPAV:
                et = _ET_HPAV  # the MME decoder skips one tag itself
        if et == _ET_HPAV:
            if self.slac is None:
                st["slac_off"] += 1
                return
            st["slac"] += 1
            self.slac.on_frame(buf, n)
            return
        if et != _ET_IPV6:
            st["other"] += 1
            return
        if not self.ip_open:
            st["ip_closed"] += 1
            return
        if n < _IP_HDR_END:
            st["ip_short"] += 1
            return
        if _IP_HDR_END + ((buf[18] << 8) | buf[19]) > n:
            st["ip_truncated"] += 1  # the stack sees the whole buffer: reject here
            return
        st["ipv6"] += 1
        if not self._seen_ip:
            self._seen_ip = True
            if self.on_first_ip is not None:
                self.on_first_ip()
        self.stack.input(buf)
