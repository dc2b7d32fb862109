"""One Ethernet link (QCA7000 driver or a raw socket) shared by SLAC and the IPv6 stack.

``Hlc.router`` (``firmware.hlc.router.FrameRouter``) is the link's receive callback:
``on_frame(buf, n)`` for the QCA7000 driver, ``on_mv(mv)`` for ``RawLink.run``.

``Hlc`` is the glue on one connector: it feeds SLAC the pilot (CP state and duty, from a
source object or the charger's event bus), keeps IPv6 shut until SLAC matched (with
``slac=False`` it is open from the start), then lets the stack, the SDP server and the
V2GTP server serve; each V2GTP message goes to ``on_message(ptype, payload_mv)``.
"""
from micropython import const
import asyncio

from lib import clock, log
from firmware.hlc.router import FrameRouter
from firmware.slac import evse as slac_evse

_TAG = "hlc"
_PILOT_POLL_MS = const(100)
_CP_F = const(5)  # firmware.iec61851.states.F
DEFAULT_PORT = const(61851)


def make_net(link, mac, port, stack_kw=None, max_payload=8192):
    """(Stack, SdpServer, V2gtpServer) on ``link`` with our ``mac``, serving ``port``."""
    # Imported here: the glue's tests then fit a small heap without the network stack.
    from firmware.net.stack import Stack
    from firmware.v2g.sdp import SdpServer
    from firmware.v2g.v2gtp import V2gtpServer
    st = Stack(mac, link.send, **(stack_kw or {}))
    return st, SdpServer(st, port), V2gtpServer(st, port, max_payload)


class Hlc:
    """SLAC + IPv6 + SDP + V2GTP on one link of a connector. See the module doc.

    ``link``: ``send(frame)`` (and optionally the QCA7000 driver's ``tx_buffer``/``commit``).
    ``net``: (stack, sdp server, V2GTP server) built elsewhere (tests); by default they are
    made here from ``stack_kw`` and ``max_payload``.
    """

    def __init__(self, link, mac, evse_id=None, slac=True, port=DEFAULT_PORT, on_message=None,
                 stack_kw=None, max_payload=8192, slac_kw=None, net=None):
        if net is None:
            net = make_net(link, mac, port, stack_kw, max_payload)
        self.stack, self.sdp, self.v2g = net
        self.port = port
        self.on_message = on_message
        self.slac = None
        if slac:
            kw = {"join_ms": slac_evse.TT_MATCH_JOIN}
            if slac_kw:
                kw.update(slac_kw)
            s = slac_evse.SlacEvse(link, mac, evse_id, **kw)
            s.on_matched = self._matched
            s.on_state = self._slac_state
            self.slac = s
        self.router = FrameRouter(self.slac, self.stack)
        self.router.on_first_ip = self._first_ip
        self.messages = 0
        self.connections = 0
        self._cp = -1
        self._duty = -1
        self._holding_f = False
        self._f_since = 0
        self._tasks = []

    # ---- pilot -> SLAC -----------------------------------------------------------

    def pilot(self, cp, duty):
        """The pilot as SLAC must see it (debounced CP state, per-mille duty)."""
        if cp == self._cp and duty == self._duty:
            return
        self._cp = cp
        self._duty = duty
        if self.slac is not None:
            self.slac.pilot(cp, duty)

    def follow(self, bus):
        """Take CP state and duty from the charger's event bus instead of a source."""
        if self.slac is not None:
            bus.subscribe(self.slac.on_event)

    def feed_source(self, source):
        """One look at a pilot ``source`` (``cp``, ``slac_duty``; None: the charger's duty).

        A fixed source cannot run the E/F retry sequence after a failed matching, so it is
        played here: SLAC sees F for T_step_EF, then the source's state again.
        """
        duty = source.slac_duty
        if duty is None or self.slac is None:
            return
        now = clock.ticks_ms()
        if self._holding_f:
            if clock.ticks_diff(now, self._f_since) < slac_evse.T_STEP_EF:
                return
            self._holding_f = False
        elif self.slac.state == slac_evse.FAILED:
            self._holding_f = True
            self._f_since = now
            log.info(_TAG, "SLAC failed: F for %d ms, then listening again", slac_evse.T_STEP_EF)
            self.pilot(_CP_F, 0)
            return
        self.pilot(source.cp, duty)

    async def _pilot_task(self, source):
        while True:
            self.feed_source(source)
            await clock.sleep_ms(_PILOT_POLL_MS)

    # ---- SLAC -> IPv6 ------------------------------------------------------------

    def _matched(self, session):
        log.info(_TAG, "link up: IPv6 open")
        self.router.open_ip(True)
        self.stack.start()

    def _slac_state(self, state):
        if state != slac_evse.MATCHED and self.router.ip_open:
            log.info(_TAG, "link down: IPv6 shut")
            self.router.open_ip(False)

    def _first_ip(self):
        if self.slac is not None:
            self.slac.link_established()

    # ---- V2GTP -------------------------------------------------------------------

    async def _serve(self, vc):
        while True:
            m = await vc.recv()
            if m is None:
                break
            self.messages += 1
            if self.on_message is not None:
                self.on_message(m[0], m[1])
            else:
                log.info(_TAG, "V2GTP 0x%04x, %d bytes (no SECC yet)", m[0], len(m[1]))
        vc.close()

    async def _acceptor(self):
        while True:
            vc = await self.v2g.accept()
            self.connections += 1
            log.info(_TAG, "V2GTP connection %d", self.connections)
            await self._serve(vc)  # one car at a time: the receive buffer is shared

    # ---- tasks -------------------------------------------------------------------

    def start(self, source=None):
        """Create the tasks (timers, SLAC, V2GTP, pilot polling of ``source``); returns them."""
        t = self._tasks
        t.append(asyncio.create_task(self.stack.run_timers(10)))
        t.append(asyncio.create_task(self._acceptor()))
        if self.slac is not None:
            t.append(asyncio.create_task(self.slac.run()))
            if source is not None:
                t.append(asyncio.create_task(self._pilot_task(source)))
        else:
            self.stack.start()
        return t

    def stop(self):
        for t in self._tasks:
            t.cancel()
        self._tasks = []

    def stats(self):
        """One dict of every counter (router, stack, SLAC), for a report at exit."""
        d = {}
        for k in self.router.stats:
            d["link_" + k] = self.router.stats[k]
        for k in self.stack.stats:
            d["net_" + k] = self.stack.stats[k]
        if self.slac is not None:
            for k in self.slac.stats:
                d["slac_" + k] = self.slac.stats[k]
            d["slac_state"] = slac_evse.STATE_NAMES[self.slac.state]
        d["sdp_requests"] = self.sdp.requests
        d["v2gtp_connections"] = self.connections
        d["v2gtp_messages"] = self.messages
        return d
