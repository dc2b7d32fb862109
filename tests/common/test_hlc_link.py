"""firmware.hlc.router / link: frames routed by Ethertype (HomePlug to SLAC, IPv6 to the stack),
bad ones dropped and counted, nothing allocated per frame; the glue feeding SLAC the pilot
and opening IPv6 only while SLAC is matched; the linux board's pilot source and stand-in
parts that feed it. Hand-built frames, both runtimes."""
import gc
import struct
import sys

import micropython

from firmware.hlc.router import FrameRouter
# Imported before any test makes garbage: on MicroPython long-lived code allocated between
# short-lived objects fragments the small test heap.
from firmware.hlc.link import Hlc
from firmware.slac import evse as slac_evse
from firmware.slac import mme

gc.collect()

_MPY = sys.implementation.name == "micropython"
_EV_MAC = b"\x02\x00\x00\x00\x00\xe1"
_EVSE_MAC = b"\x02\x00\x00\x00\x00\x5c"
_EV_IP = bytes.fromhex("fe80000000000000000000fffe0000e1")
_ALL_NODES = bytes.fromhex("ff020000000000000000000000000001")


class Sink:
    """Records what reached it, without allocating per call (counts and the last length)."""

    def __init__(self):
        self.calls = 0
        self.last_n = -1

    def on_frame(self, buf, n):
        self.calls += 1
        self.last_n = n

    def input(self, buf):
        self.calls += 1
        self.last_n = len(buf)


_RUN = b"RUNID-01"


def _mme(fn, *a):
    b = bytearray(160)
    n = fn(b, *a)
    return b[:n]


def _parm_req():
    return _mme(mme.slac_parm_req, mme.BROADCAST, _EV_MAC, _RUN)


class Wire:
    """The link: records what is sent."""

    def __init__(self):
        self.sent = []

    def send(self, frame):
        self.sent.append(bytes(frame))
        return True

    def take(self):
        out = self.sent
        self.sent = []
        return out


def _eth(etype, body, dst=b"\xff" * 6, src=_EV_MAC):
    return bytearray(dst + src + bytes([etype >> 8, etype & 0xFF]) + body)


def _csum(data):
    s = 0
    i = 0
    while i + 1 < len(data):
        s += (data[i] << 8) | data[i + 1]
        i += 2
    if i < len(data):
        s += data[i] << 8
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _sdp_req():
    """An EV's SDP request to ff02::1 port 15118, as a kernel builds it (own checksum)."""
    data = b"\x01\xfe\x90\x00\x00\x00\x00\x02\x10\x00"
    ln = 8 + len(data)
    udp = bytearray(struct.pack("!HHHH", 50000, 15118, ln, 0) + data)
    c = _csum(_EV_IP + _ALL_NODES + struct.pack("!IxxxB", ln, 17) + udp) or 0xFFFF
    udp[6] = c >> 8
    udp[7] = c & 0xFF
    ip = struct.pack("!IHBB", 6 << 28, ln, 17, 1) + _EV_IP + _ALL_NODES + udp
    return _eth(0x86DD, ip, dst=b"\x33\x33\x00\x00\x00\x01")


def _router(ip_open=True):
    slac, stack = Sink(), Sink()
    r = FrameRouter(slac, stack)
    r.open_ip(ip_open)
    return r, slac, stack


def test_homeplug_and_ipv6_go_where_they_belong():
    r, slac, stack = _router()
    hp = bytearray(_parm_req())
    r.on_frame(hp, len(hp))
    assert slac.calls == 1 and slac.last_n == len(hp) and stack.calls == 0
    ip = _sdp_req()
    r.on_frame(ip, len(ip))
    assert stack.calls == 1 and stack.last_n == len(ip) and slac.calls == 1
    r.on_mv(memoryview(hp))
    assert slac.calls == 2
    st = r.stats
    assert (st["rx"], st["slac"], st["ipv6"], st["other"]) == (3, 2, 1, 0)


def test_vlan_tagged_homeplug_reaches_slac_other_types_are_counted():
    r, slac, stack = _router()
    tagged = _eth(0x8100, b"\x00\x05\x88\xe1" + b"\x01" + bytes(50))
    r.on_frame(tagged, len(tagged))
    assert slac.calls == 1
    for et in (0x0800, 0x0806, 0x8100, 0x88E2):  # IPv4, ARP, a tagged IPv4 frame, other
        f = _eth(et, (b"\x08\x00" if et == 0x8100 else b"") + bytes(46))
        r.on_frame(f, len(f))
    assert r.stats["other"] == 4 and stack.calls == 0 and slac.calls == 1


def test_short_and_bad_lengths_are_dropped_and_counted():
    r, slac, stack = _router()
    buf = bytearray(100)
    buf[12] = 0x86
    buf[13] = 0xDD
    for n in (0, 1, 13):
        r.on_frame(buf, n)
    r.on_frame(buf, 101)  # longer than the buffer
    r.on_frame(buf, -1)
    r.on_frame(buf, 53)  # IPv6 header cut
    st = r.stats
    assert st["short"] == 3 and st["bad_len"] == 2 and st["ip_short"] == 1
    assert slac.calls == 0 and stack.calls == 0 and st["rx"] == 6


def test_truncated_ipv6_dropped_even_when_the_buffer_is_longer():
    r, slac, stack = _router()
    f = _sdp_req()
    big = bytearray(1518)
    big[:len(f)] = f
    r.on_frame(big, len(f) - 1)  # the driver says one byte less than the packet needs
    assert r.stats["ip_truncated"] == 1 and stack.calls == 0
    r.on_frame(big, len(f))
    # allocation-free: the stack gets the driver's whole buffer, already length-checked
    assert stack.calls == 1 and stack.last_n == 1518


def test_ipv6_shut_until_open_and_homeplug_without_slac():
    r, slac, stack = _router(ip_open=False)
    f = _sdp_req()
    r.on_frame(f, len(f))
    assert r.stats["ip_closed"] == 1 and stack.calls == 0
    r.open_ip(True)
    r.on_frame(f, len(f))
    assert stack.calls == 1
    nos = FrameRouter(None, Sink())
    assert nos.ip_open  # no SLAC: IPv6 from the start
    hp = bytearray(_parm_req())
    nos.on_frame(hp, len(hp))
    assert nos.stats["slac_off"] == 1


def test_first_ip_frame_reported_once_per_opening():
    r, slac, stack = _router()
    seen = []
    r.on_first_ip = lambda: seen.append(1)
    f = _sdp_req()
    r.on_frame(f, len(f))
    r.on_frame(f, len(f))
    assert seen == [1]
    r.open_ip(False)
    r.open_ip(True)
    r.on_frame(f, len(f))
    assert seen == [1, 1]


def _locked(func, a, b):
    micropython.heap_lock()
    try:
        func(a, b)
    finally:
        micropython.heap_unlock()


def test_routing_allocates_nothing():
    if not _MPY:
        return  # the CPython shim's heap_lock is a no-op
    r, slac, stack = _router()
    frames = [bytearray(_parm_req()), _sdp_req(), _eth(0x0800, bytes(46)), bytearray(10)]
    big = bytearray(1518)
    f = _sdp_req()
    big[:len(f)] = f
    for fr in frames:
        r.on_frame(fr, len(fr))  # every counter exists before the lock
    for fr in frames:
        _locked(r.on_frame, fr, len(fr))
    _locked(r.on_frame, big, len(f))
    _locked(r.on_frame, big, len(f) - 1)
    assert slac.calls == 2 and stack.calls == 3


class NetStub:
    """Stands in for the stack and the SDP server (tests/host/test_run_linux.py runs the real ones)."""

    def __init__(self):
        self.started = 0
        self.frames = 0
        self.requests = 0
        self.stats = {"rx": 0}

    def start(self):
        self.started += 1

    def input(self, buf):
        self.frames += 1


def _hlc(slac=True):
    gc.collect()
    link = Wire()
    net = NetStub()
    h = Hlc(link, _EVSE_MAC, evse_id=b"DE*TST*E1", slac=slac, slac_kw={"max_sessions": 1},
            net=(net, net, None))
    return h, link


def _feed(h, frame):
    b = bytearray(frame)
    h.router.on_frame(b, len(b))


def _match(h, link):
    h.slac.start()
    _feed(h, _mme(mme.set_key_cnf, _EVSE_MAC, mme.LOCAL_MODEM, 1, b"\x01\x02\x03\x04",
                  bytes(h.slac._nonce)))
    assert h.slac.key_ok
    h.pilot(1, 50)
    _feed(h, _parm_req())
    _feed(h, _mme(mme.start_atten_char_ind, mme.BROADCAST, _EV_MAC, _RUN, _EV_MAC, 10, 6))
    prof = _mme(mme.atten_profile_ind, _EVSE_MAC, mme.LOCAL_MODEM, _EV_MAC, bytes([20]) * 58)
    for i in range(10):
        _feed(h, _mme(mme.mnbc_sound_ind, mme.BROADCAST, _EV_MAC, _RUN, 9 - i))
        _feed(h, prof)
    _feed(h, _mme(mme.atten_char_rsp, _EVSE_MAC, _EV_MAC, _EV_MAC, _RUN, 0))
    link.take()
    _feed(h, _mme(mme.slac_match_req, _EVSE_MAC, _EV_MAC, _EV_MAC, _EVSE_MAC, _RUN))


def test_hlc_opens_ipv6_when_matched_and_shuts_it_when_the_car_leaves():
    h, link = _hlc()
    h.pilot(1, 50)
    assert h.slac.state == slac_evse.WAITING and not h.router.ip_open
    net = h.stack
    _feed(h, _sdp_req())
    assert h.router.stats["ip_closed"] == 1 and net.frames == 0 and net.started == 0
    _match(h, link)
    assert h.slac.state == slac_evse.MATCHED and h.router.ip_open
    kinds = [mme.mmtype_of(f, len(f)) for f in link.take()]
    assert kinds == [mme.CM_SLAC_MATCH_CNF]
    assert net.started == 1  # the stack announces itself once the link is up
    assert not h.slac._joined
    _feed(h, _sdp_req())
    assert net.frames == 1 and h.slac._joined  # the car is on the link: TT_match_join met
    h.pilot(0, 1000)  # unplugged
    assert h.slac.state == slac_evse.OFF and not h.router.ip_open
    _feed(h, _sdp_req())
    assert net.frames == 1 and h.router.stats["ip_closed"] == 2


def test_hlc_pilot_repeats_are_not_passed_on():
    h, link = _hlc()
    h.pilot(1, 50)
    h.slac.state = slac_evse.FAILED  # as after TT_EVSE_SLAC_init
    h.pilot(1, 50)
    assert h.slac.state == slac_evse.FAILED
    h.pilot(5, 0)
    h.pilot(1, 50)
    assert h.slac.state == slac_evse.WAITING


def test_hlc_without_slac_serves_at_once():
    h, link = _hlc(slac=False)
    assert h.slac is None and h.router.ip_open
    h.pilot(1, 50)  # nothing to feed
    _feed(h, _parm_req())
    _feed(h, _sdp_req())
    assert h.router.stats["slac_off"] == 1 and h.stack.frames == 1
    assert link.sent == []  # no CM_SET_KEY without SLAC
    st = h.stats()
    assert st["link_slac_off"] == 1 and st["link_ipv6"] == 1 and "slac_state" not in st


class Source:
    """The linux board's pilot source, as far as the glue reads it."""

    def __init__(self, cp=1, slac_duty=50):
        self.cp = cp
        self.slac_duty = slac_duty


def test_source_feeds_slac_and_a_failed_matching_is_retried_after_f():
    from lib import clock
    h, link = _hlc()
    src = Source()
    h.feed_source(src)
    assert h.slac.state == slac_evse.WAITING
    clock.advance(slac_evse.TT_EVSE_SLAC_INIT)
    h.slac.poll()  # no car asked in time
    assert h.slac.state == slac_evse.FAILED
    h.feed_source(src)
    assert h.slac.state == slac_evse.OFF and h._cp == 5  # F shown to SLAC
    clock.advance(slac_evse.T_STEP_EF - 100)
    h.feed_source(src)
    assert h.slac.state == slac_evse.OFF
    clock.advance(100)
    h.feed_source(src)
    assert h.slac.state == slac_evse.WAITING and h._cp == 1
    src.cp = 0  # the car leaves
    h.feed_source(src)
    assert h.slac.state == slac_evse.OFF


def test_source_following_the_charger_is_left_alone():
    h, link = _hlc()
    h.feed_source(Source(slac_duty=None))
    assert h.slac.state == slac_evse.OFF and h._cp == -1


def test_follow_takes_the_pilot_from_the_charger_bus():
    from firmware import events
    h, link = _hlc()
    bus = events.Bus()
    h.follow(bus)
    bus.emit(events.CP_STATE, 1)
    bus.emit(events.DUTY, 266)
    assert h.slac.state == slac_evse.OFF  # 26.6 %: basic charging, no SLAC
    bus.emit(events.DUTY, 50)
    assert h.slac.state == slac_evse.WAITING


# ---- the linux board's pilot source (boards/linux/board.py), which feeds all of the above --

def _monitor(board):
    from firmware.iec61851.pilot import PilotMonitor
    m = PilotMonitor(board.cp)
    for _ in range(4):
        m.measure()
    return m


def test_linux_board_pilot_shows_the_configured_state_under_any_duty():
    from boards.linux import board as lb
    from firmware.iec61851 import pilot, states
    b = lb.create({"data_dir": "/tmp/unused"})
    assert b.source.cp == states.B and b.source.slac_duty == 50 and b.fs_root == "/tmp/unused"
    for duty in (1000, 266, 50):
        b.cp.set_duty(duty)
        m = _monitor(b)
        assert m.state == states.B and m.error == pilot.OK, (duty, m.high_mv, m.low_mv)
    b.source.set("C")
    assert _monitor(b).state == states.C
    b.cp.set_duty(0)  # we show F ourselves
    assert _monitor(b).state == states.F
    nod = lb.create({"diode": False})
    nod.cp.set_duty(266)
    assert _monitor(nod).error == pilot.ERR_DIODE


def test_linux_board_parts_and_config_checks():
    from boards.linux import board as lb
    from firmware.iec61851 import proximity
    from tests.common.support import raises
    b = lb.create()
    assert proximity.cable_amps(b.pp.ohms()) == 32
    b.rcd.set_test(True)
    assert b.rcd.tripped()  # a healthy module trips on its test input
    b.rcd.set_test(False)
    b.lock.drive(True)
    b.contactor.set(True)
    assert not b.rcd.tripped() and b.lock.locked() and b.contactor.feedback()
    stopped = []
    b.on_reboot = lambda: stopped.append(1)
    b.reboot()
    assert stopped == [1] and b.reboot_requested
    t = lb.create({"pp_ohms": None, "slac_duty": "charger"})
    assert t.pp is None and t.lock is None and t.source.slac_duty is None
    for bad in ({"cp": "X"}, {"nope": 1}, {"slac_duty": 1001}, {"pp_ohms": "220"}, {"diode": 1}):
        raises(lb.BoardConfigError, lb.create, bad)
