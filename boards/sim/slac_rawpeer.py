"""A SLAC side on a raw Linux interface, for the peer tests (CPython or the MicroPython
unix port; root or CAP_NET_RAW).

    python -m boards.sim.slac_rawpeer evse IFACE [SECONDS]   the firmware's charger side
    python -m boards.sim.slac_rawpeer ev IFACE [SECONDS]     the simulated car's side

The charger configures its key (CM_SET_KEY to the local modem address), sees the pilot
at B / 5 % at once and waits up to SECONDS for a car; the car matches. Both print one
``RESULT matched <mac> nid=<hex> nmk=<hex>`` or ``RESULT failed ...`` line and exit 0/1.
"""
import asyncio
import gc
import sys

from lib import clock
from boards.linux.rawlink import ETH_P_HOMEPLUG, RawLink, if_mac


def _hex(b):
    return "".join("%02x" % x for x in b)


def _out(line):
    print(line)
    try:
        sys.stdout.flush()
    except AttributeError:
        pass


async def _evse(link, mac, secs):
    from firmware.slac.evse import MATCHED, SlacEvse

    e = SlacEvse(link, mac, evse_id=b"DE*SIM*E0001")
    rx = asyncio.create_task(link.run(lambda mv: e.on_frame(mv, len(mv))))
    t = asyncio.create_task(e.run())
    await clock.sleep_ms(300)  # the modem's CM_SET_KEY.CNF
    e.pilot(1, 50)
    end = clock.ticks_add(clock.ticks_ms(), secs * 1000)
    while e.state != MATCHED and clock.ticks_diff(end, clock.ticks_ms()) > 0:
        await clock.sleep_ms(50)
    await clock.sleep_ms(300)  # answer a repeated MATCH.REQ, if any
    ok = e.state == MATCHED
    if ok:
        _out("RESULT matched %s nid=%s nmk=%s key_ok=%s" % (
            _hex(e.matched.ev_mac), _hex(e.nid), _hex(e.nmk), e.key_ok))
    else:
        _out("RESULT failed state=%d stats=%s" % (e.state, e.stats))
    rx.cancel()
    t.cancel()
    return ok


async def _ev(link, mac, secs):
    from boards.sim.ev_slac import SlacEv

    ev = SlacEv(link, mac, attempts=max(1, secs // 2))
    rx = asyncio.create_task(link.run(lambda mv: ev.on_frame(mv, len(mv))))
    ok = await ev.match()
    if ok:
        _out("RESULT matched %s nid=%s nmk=%s ms=%d" % (
            _hex(ev.evse_mac), _hex(ev.nid), _hex(ev.nmk), ev.t_match_cnf - ev.t_first_req))
    else:
        _out("RESULT failed %s" % (ev.log[-3:],))
    rx.cancel()
    return ok


def main(argv):
    role, iface = argv[0], argv[1]
    secs = int(argv[2]) if len(argv) > 2 else 30
    # load the code before the buffers: a small heap must not be fragmented first
    if role == "evse":
        import firmware.slac.evse  # noqa: F401
    else:
        import boards.sim.ev_slac  # noqa: F401
    gc.collect()
    link = RawLink(iface, proto=ETH_P_HOMEPLUG)
    mac = if_mac(iface)
    coro = _evse(link, mac, secs) if role == "evse" else _ev(link, mac, secs)
    ok = asyncio.run(coro)
    link.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
