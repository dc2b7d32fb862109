"""The simulated car's side of ISO 15118-3 SLAC (the EV / PEV), common subset.

Same link interface as the charger side (``send(frame)``, ``on_frame(buf, n)``), so it
runs over its own QCA7000 model + driver on the simulated PLC medium, or on a raw socket.
``await ev.match()`` performs matching as a closed-loop EV does:

  CM_SLAC_PARM.REQ (broadcast, repeated C_EV_match_retry times without CNF; every
  charger that answers is a candidate) -> C_EV_start_atten_char_inds x
  CM_START_ATTEN_CHAR.IND and C_EV_match_MNBC x CM_MNBC_SOUND.IND at
  TP_EV_batch_msg_interval -> CM_ATTEN_CHAR.IND from the candidates within
  TT_EV_atten_results, each acknowledged with CM_ATTEN_CHAR.RSP -> the candidate with the
  lowest average attenuation (below ``limit_db``) -> optional CM_VALIDATE (with BCB
  toggles through ``toggle``) -> CM_SLAC_MATCH.REQ (repeated) -> CM_SLAC_MATCH.CNF ->
  CM_SET_KEY.REQ with the received NMK/NID to its own modem. A failed attempt is repeated
  after TT_matching_rate, ``attempts`` times in all.

Fault knobs for tests: ``skip_rsp`` (ATTEN_CHAR.RSPs not sent), ``dup`` (every request
sent twice), ``sounds``/``start_inds`` (counts), ``rng`` (run IDs).
"""
import asyncio

from lib import clock, log
from firmware.slac import mme
from firmware.slac.evse import C_EV_MATCH_RETRY, TT_MATCH_RESPONSE, TT_MATCHING_RATE
from firmware.slac.keys import random_bytes

_TAG = "evslac"

TP_EV_BATCH_MSG_INTERVAL = 40  # 20-50 ms
TP_MATCH_SEQUENCE = 100  # after a response, before our next request
TT_EV_ATTEN_RESULTS = 1200
C_EV_MATCH_MNBC = 10
C_EV_START_ATTEN_CHAR_INDS = 3


class SlacEv:
    def __init__(self, link, mac, rng=None, limit_db=None, validate=False, toggle=None,
                 attempts=3, modem_mac=mme.LOCAL_MODEM, pev_id=None, name="ev"):
        self.link = link
        self.mac = bytes(mac)
        self.rng = rng or random_bytes
        self.limit_db = limit_db
        self.validate = validate
        self.toggle = toggle  # async f(n): do n B->C->B toggles on the pilot
        self.attempts = attempts
        self.modem_mac = bytes(modem_mac)
        self.pev_id = pev_id
        self.name = name
        self.run_id = b""
        self.skip_rsp = 0
        self.dup = False
        self.sounds = C_EV_MATCH_MNBC
        self.start_inds = C_EV_START_ATTEN_CHAR_INDS
        self.batch_ms = TP_EV_BATCH_MSG_INTERVAL
        self.evse_mac = None
        self.nmk = None
        self.nid = None
        self.matched = False
        self.results = {}  # evse mac -> (mean dB, sounds)
        self.t_first_req = None
        self.t_match_cnf = None
        self.log = []  # (ms since first request, what) for timelines and tests
        self._cands = []
        self._got = None  # the awaited answer
        self._want = 0
        self._from = None
        self._ev = asyncio.Event()
        self._m = mme.Mme()
        self._tx = bytearray(160)

    def _note(self, what):
        t = 0 if self.t_first_req is None else clock.ticks_diff(clock.ticks_ms(), self.t_first_req)
        self.log.append((t, what))

    def _send(self, n, what):
        f = bytes(self._tx[:n])
        self.link.send(f)
        if self.dup:
            self.link.send(f)
        self._note(what)

    # ---- receive -------------------------------------------------------------------

    def on_frame(self, buf, n):
        mt = mme.mmtype_of(buf, n)
        if mt < 0 or bytes(buf[0:6]) not in (self.mac, mme.BROADCAST):
            return
        m = self._m
        try:
            mme.decode(buf, n, m)
        except mme.MmeError:
            return
        src = bytes(buf[6:12])
        if mt == mme.CM_SLAC_PARM_CNF:
            if mme.same(buf, m.o_run_id, self.run_id) and src not in self._cands:
                self._cands.append(src)
                self._answer(mt, src, None)
        elif mt == mme.CM_ATTEN_CHAR_IND:
            if mme.same(buf, m.o_run_id, self.run_id) and mme.same(buf, m.o_source_addr, self.mac):
                g = m.num_groups
                t = 0
                for i in range(g):
                    t += buf[m.o_aag + i]
                self.results[src] = (t // g if g else 255, m.num_sounds)
                self._note("ATTEN_CHAR.IND from %s: %d dB" % (_hex(src), self.results[src][0]))
                if self.skip_rsp:
                    self.skip_rsp -= 1
                else:
                    k = mme.atten_char_rsp(self._tx, src, self.mac, self.mac, self.run_id, 0)
                    self._send(k, "ATTEN_CHAR.RSP")
                self._answer(mt, src, None)
        elif mt == mme.CM_VALIDATE_CNF:
            self._answer(mt, src, (m.toggle_num, m.result))
        elif mt == mme.CM_SLAC_MATCH_CNF:
            if mme.same(buf, m.o_run_id, self.run_id):
                self._answer(mt, src, (m.field(m.o_nid, 7), m.field(m.o_nmk, 16)))
        elif mt == mme.CM_SET_KEY_CNF:
            self._answer(mt, src, m.result)

    def _answer(self, mt, src, val):
        if mt == self._want and (self._from is None or src == self._from):
            self._got = (src, val)
            self._ev.set()

    async def _await(self, mt, ms, src=None):
        self._want = mt
        self._from = src
        self._got = None
        self._ev.clear()
        end = clock.ticks_add(clock.ticks_ms(), ms)
        while self._got is None:
            left = clock.ticks_diff(end, clock.ticks_ms())
            if left <= 0:
                break
            try:
                await asyncio.wait_for(self._ev.wait(), left / 1000)
            except asyncio.TimeoutError:
                pass
            self._ev.clear()
        self._want = 0
        return self._got

    async def _request(self, build, mt, what, src=None):
        """Send, wait TT_match_response, repeat C_EV_match_retry times."""
        for _ in range(1 + C_EV_MATCH_RETRY):
            self._send(build(), what)
            got = await self._await(mt, TT_MATCH_RESPONSE, src)
            if got is not None:
                return got
        return None

    # ---- matching --------------------------------------------------------------------

    async def match(self):
        """Match with the best charger; True on success (``evse_mac``, ``nmk``, ``nid``)."""
        for attempt in range(self.attempts):
            if attempt:
                await clock.sleep_ms(TT_MATCHING_RATE)
            if await self._attempt():
                return True
        return False

    async def _attempt(self):
        self.run_id = bytes(self.rng(8))
        self._cands = []
        self.results = {}
        if self.t_first_req is None:
            self.t_first_req = clock.ticks_ms()
        tx = self._tx
        got = await self._request(
            lambda: mme.slac_parm_req(tx, mme.BROADCAST, self.mac, self.run_id),
            mme.CM_SLAC_PARM_CNF, "SLAC_PARM.REQ")
        if got is None:
            self._note("no SLAC_PARM.CNF")
            return False
        await clock.sleep_ms(TP_MATCH_SEQUENCE)  # other chargers may answer meanwhile
        t0 = clock.ticks_ms()
        for i in range(self.start_inds):
            k = mme.start_atten_char_ind(tx, mme.BROADCAST, self.mac, self.run_id, self.mac,
                                         self.sounds, 6)
            self._send(k, "START_ATTEN_CHAR.IND")
            await clock.sleep_ms(self.batch_ms)
        for i in range(self.sounds):
            k = mme.mnbc_sound_ind(tx, mme.BROADCAST, self.mac, self.run_id, self.sounds - 1 - i,
                                   rnd=self.rng(16))
            self._send(k, "MNBC_SOUND.IND")
            if i + 1 < self.sounds:
                await clock.sleep_ms(self.batch_ms)
        while len(self.results) < len(self._cands):
            left = TT_EV_ATTEN_RESULTS - clock.ticks_diff(clock.ticks_ms(), t0)
            if left <= 0 or await self._await(mme.CM_ATTEN_CHAR_IND, left) is None:
                break
        best = None
        for mac, (db, _n) in self.results.items():
            if self.limit_db is not None and db >= self.limit_db:
                continue
            if best is None or db < self.results[best][0]:
                best = mac
        if best is None:
            self._note("no charger within the attenuation limit")
            return False
        await clock.sleep_ms(TP_MATCH_SEQUENCE // 4)
        if self.validate and not await self._validate(best):
            return False
        got = await self._request(
            lambda: mme.slac_match_req(tx, best, self.mac, self.mac, best, self.run_id,
                                       pev_id=self.pev_id),
            mme.CM_SLAC_MATCH_CNF, "SLAC_MATCH.REQ", best)
        if got is None:
            self._note("no SLAC_MATCH.CNF")
            return False
        self.t_match_cnf = clock.ticks_ms()
        self.evse_mac = best
        self.nid, self.nmk = got[1]
        self._note("SLAC_MATCH.CNF")
        k = mme.set_key_req(tx, self.modem_mac, self.mac, self.nid, self.nmk,
                            my_nonce=self.rng(4))
        self._send(k, "SET_KEY.REQ")
        if await self._await(mme.CM_SET_KEY_CNF, 1000) is None:
            log.warn(_TAG, "%s: no CM_SET_KEY.CNF from the modem", self.name)
        self.matched = True
        log.info(_TAG, "%s: matched with %s", self.name, _hex(best))
        return True

    async def _validate(self, evse):
        tx = self._tx
        got = await self._request(lambda: mme.validate_req(tx, evse, self.mac, 0),
                                  mme.CM_VALIDATE_CNF, "VALIDATE.REQ", evse)
        if got is None:
            return False
        toggles, result = got[1]
        if result == mme.VAL_NOT_REQUIRED:
            return True
        if result != mme.VAL_READY:
            return False
        n = 2
        k = mme.validate_req(tx, evse, self.mac, 10)  # 1 s window
        self._send(k, "VALIDATE.REQ (toggles)")
        self._want = mme.CM_VALIDATE_CNF
        self._from = evse
        self._got = None
        self._ev.clear()
        if self.toggle is not None:
            await self.toggle(n)
        got = await self._await_keep(mme.CM_VALIDATE_CNF, 1000 + TT_MATCH_RESPONSE * 2, evse)
        if got is None:
            return False
        toggles, result = got[1]
        self._note("VALIDATE.CNF %d toggles, result %d" % (toggles, result))
        return result == mme.VAL_SUCCESS and toggles == n

    async def _await_keep(self, mt, ms, src):
        # like _await, but an answer that came during the toggles counts
        if self._got is not None:
            got = self._got
            self._want = 0
            return got
        return await self._await(mt, ms, src)


def _hex(b):
    return ":".join("%02x" % x for x in b)
