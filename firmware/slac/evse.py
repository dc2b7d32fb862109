"""ISO 15118-3 matching, charger (EVSE) side: a flat table of per-state handlers.

Link: any object with ``send(frame)`` (QCA7000 driver, RawLink, a test stub); if it also
has ``tx_buffer()``/``commit(n)`` (the QCA7000 driver) frames are encoded straight into
its TX slot. Received frames go to ``on_frame(buf, n)`` (the driver's callback signature;
for RawLink: ``lambda mv: slac.on_frame(mv, len(mv))``).

What it does:

- A fresh random NMK and the NID derived from it are set into the local modem with
  CM_SET_KEY.REQ at ``start()`` and after every session that disclosed the key
  (CM_SET_KEY.CNF: result 0, as the spec says, or 1, as QCA modems send, both succeed).
- Matching runs only while the pilot (``pilot(cp, duty)``) shows B/C/D with 5 % duty;
  A/E/F abort everything; leaving 5 % aborts a matching in progress (a matched link
  survives duty changes while the car stays in B/C/D). No CM_SLAC_PARM.REQ within
  TT_EVSE_SLAC_init: ``state`` FAILED, ``on_failed`` is called (the charger then runs
  the E/F retry sequence of IEC 61851 / V2G3-M06-05).
- Several cars (EV MAC + run ID) may be in matching at once (crosstalk in a charging
  park): each has its own session slot, sounds and profiles never mix, and the car
  decides: only the one that sends CM_SLAC_MATCH.REQ to us is matched.
- Attenuation: averaged from the local modem's CM_ATTEN_PROFILE.IND, or synthesised
  (``synth_db`` per group) per sound when the modem sends none (``atten`` "modem",
  "synth" or "auto" = modem's when there are any).
- CM_ATTEN_CHAR.IND is repeated C_EV_match_retry times without RSP; CM_VALIDATE is
  answered "not required" unless ``validate`` (then BCB toggles from ``pilot()`` count);
  duplicated requests get the same answer again, stale or foreign ones are ignored.
- A failed session frees its slot; matching restarts with the next CM_SLAC_PARM.REQ.

Timers (ms) and counts are ISO 15118-3 Table 3 / Table A.1 values.
"""
from micropython import const
import asyncio
import sys

from lib import clock, log
from firmware.slac import keys, mme
from firmware.slac.mme import same

_TAG = "slac"

# ISO 15118-3 timers (ms) and constants
TT_EVSE_SLAC_INIT = const(40000)  # 20-50 s: pilot B + 5 % until CM_SLAC_PARM.REQ
TT_MATCH_SEQUENCE = const(400)  # waiting for the peer's next request
TT_MATCH_RESPONSE = const(200)  # waiting for the answer to our request
TT_EVSE_MATCH_MNBC = const(600)  # sounding window after CM_START_ATTEN_CHAR.IND
TT_EVSE_MATCH_SESSION = const(10000)  # after sounding: VALIDATE or SLAC_MATCH must come
TT_MATCH_JOIN = const(12000)  # after SLAC_MATCH.CNF: link established at the latest
TT_MATCHING_REPETITION = const(10000)  # the EV repeats a failed matching within this
TT_MATCHING_RATE = const(400)  # the EV waits this before repeating
TT_EVSE_VALD_TOGGLE = const(3500)  # upper bound of a validation toggle window
TP_MATCH_RESPONSE = const(100)  # performance: our answers (we answer at once)
TP_EVSE_AVG_ATTEN_CALC = const(100)  # performance: end of sounding -> ATTEN_CHAR.IND
T_STEP_EF = const(4000)  # min. time in E/F of the retry sequence (the charger's)
C_EV_MATCH_RETRY = const(2)  # repetitions of an unanswered request
C_EV_MATCH_MNBC = const(10)  # sounds we ask for
C_EV_START_ATTEN_CHAR_INDS = const(3)
C_SEQU_RETRY = const(2)  # E/F retry sequences before falling back to nominal duty

_SETKEY_WAIT = const(1000)  # the local modem's CM_SET_KEY.CNF
_SETKEY_TRIES = const(3)
_MAX_TIMEOUT_UNITS = const(25)  # an EV's sounding time-out we honour, x 100 ms
_IDLE_WAIT = const(1000)

# global states
OFF = const(0)  # pilot not in B/C/D with 5 %
WAITING = const(1)  # listening for CM_SLAC_PARM.REQ
MATCHING = const(2)  # one or more sessions in progress
MATCHED = const(3)
FAILED = const(4)  # TT_EVSE_SLAC_init ran out
STATE_NAMES = ("off", "waiting", "matching", "matched", "failed")

# session states
S_FREE = const(0)
S_WAIT_START = const(1)  # PARM.CNF sent, waiting for START_ATTEN_CHAR.IND
S_SOUNDING = const(2)
S_WAIT_RSP = const(3)  # ATTEN_CHAR.IND sent
S_WAIT_MATCH = const(4)  # ATTEN_CHAR.RSP in, waiting for VALIDATE / SLAC_MATCH
S_VALIDATE = const(5)  # first VALIDATE answered Ready, waiting for the second
S_TOGGLES = const(6)  # counting BCB toggles
S_MATCHED = const(7)
SESSION_NAMES = ("free", "wait_start", "sounding", "wait_rsp", "wait_match", "validate",
                 "toggles", "matched")

# firmware.events kinds this module follows (tests check they agree)
EV_CP_STATE = const(0)
EV_DUTY = const(2)

# pilot
_CP_A = const(0)
_CP_B = const(1)
_CP_C = const(2)
_CP_D = const(3)
_DUTY_HLC = const(50)

STAT_NAMES = (
    "rx", "rx_bad", "rx_ignored", "tx", "tx_fail", "sessions", "matched", "failed",
    "no_slot", "setkey", "setkey_ok", "setkey_refused", "setkey_timeout", "atten_retry",
    "synth_profiles", "foreign", "duplicates",
)

_MP = sys.implementation.name == "micropython"


async def _wait_ms(aw, ms):
    if _MP:
        return await asyncio.wait_for_ms(aw, ms)
    return await asyncio.wait_for(aw, ms / 1000)


class Session:
    """One car's matching attempt (EV MAC + run ID); slots are preallocated."""

    def __init__(self):
        self.state = S_FREE
        self.ev_mac = bytearray(6)
        self.run_id = bytearray(8)
        self.deadline = 0
        self.tries = 0
        self.num_sounds = C_EV_MATCH_MNBC
        self.window = TT_EVSE_MATCH_MNBC
        self.sounds = 0
        self.sounds_done = False
        self.profiles = 0
        self.groups = 0
        self.sums = [0] * mme.MAX_GROUPS
        self.avg = bytearray(mme.MAX_GROUPS)
        self.avg_n = 0  # sounds the average is made of
        self.toggles = 0
        self.cp_c = False

    def clear(self):
        self.state = S_FREE
        self.sounds = 0
        self.sounds_done = False
        self.profiles = 0
        self.groups = 0
        self.tries = 0
        self.toggles = 0
        s = self.sums
        i = 0
        while i < mme.MAX_GROUPS:
            s[i] = 0
            i += 1

    def mean_db(self):
        """Average attenuation over all groups (dB), for logs and tests."""
        if not self.groups:
            return -1
        t = 0
        i = 0
        while i < self.groups:
            t += self.avg[i]
            i += 1
        return t // self.groups


class SlacEvse:
    """The charger side of SLAC on one connector. See the module doc."""

    def __init__(self, link, mac, evse_id=None, atten="auto", synth_db=30, validate=False,
                 max_sessions=4, slac_init_ms=TT_EVSE_SLAC_INIT, join_ms=0,
                 modem_mac=mme.LOCAL_MODEM, rng=None, nmk=None, name="slac"):
        self.link = link
        self.mac = bytes(mac)
        self.evse_id = evse_id
        self.atten = atten
        self.synth_db = synth_db
        self.validate = validate
        self.slac_init_ms = slac_init_ms
        self.join_ms = join_ms  # 0: TT_match_join not supervised (no link-up report)
        self.modem_mac = bytes(modem_mac)
        self.name = name
        self._rng = rng or keys.random_bytes
        self.nmk = nmk or keys.new_nmk(self._rng)
        self.nid = keys.nid_from_nmk(self.nmk)
        self.state = OFF
        self.sessions = [Session() for _ in range(max_sessions)]
        self.matched = None  # the matched Session
        self.on_matched = None  # f(session)
        self.on_failed = None  # f(reason)
        self.on_state = None  # f(state)
        self.key_ok = False
        self._key_pending = False
        self._key_deadline = 0
        self._key_tries = 0
        self._nonce = bytearray(4)
        self._disclosed = False
        self._deadline = 0  # global: TT_EVSE_SLAC_init / TT_match_join
        self._joined = False
        self._cp = -1
        self._duty = -1
        self._m = mme.Mme()
        self._tx = bytearray(160)
        self._txmv = memoryview(self._tx)
        self._wake = asyncio.Event()
        self.stats = {}
        for k in STAT_NAMES:
            self.stats[k] = 0
        self._handlers = {
            mme.CM_SLAC_PARM_REQ: self._on_parm_req,
            mme.CM_START_ATTEN_CHAR_IND: self._on_start_atten,
            mme.CM_MNBC_SOUND_IND: self._on_sound,
            mme.CM_ATTEN_PROFILE_IND: self._on_profile,
            mme.CM_ATTEN_CHAR_RSP: self._on_atten_rsp,
            mme.CM_VALIDATE_REQ: self._on_validate,
            mme.CM_SLAC_MATCH_REQ: self._on_match_req,
            mme.CM_SET_KEY_CNF: self._on_set_key_cnf,
        }

    # ---- outputs -------------------------------------------------------------------

    def _buf(self):
        tb = getattr(self.link, "tx_buffer", None)
        if tb is not None:
            b = tb()
            if b is not None:
                return b
        return self._tx

    def _send(self, buf, n):
        if buf is self._tx:
            ok = self.link.send(self._txmv[:n])
        else:
            ok = self.link.commit(n)
        if ok is False:
            self.stats["tx_fail"] += 1
        else:
            self.stats["tx"] += 1

    def _set_state(self, st):
        if st != self.state:
            log.info(_TAG, "%s: %s -> %s", self.name, STATE_NAMES[self.state], STATE_NAMES[st])
            self.state = st
            if self.on_state is not None:
                self.on_state(st)

    def _kick(self):
        self._wake.set()

    # ---- keys ----------------------------------------------------------------------

    def _set_key(self):
        """CM_SET_KEY.REQ with our NMK/NID to the local modem."""
        self.stats["setkey"] += 1
        self._nonce[:] = self._rng(4)
        b = self._buf()
        n = mme.set_key_req(b, self.modem_mac, self.mac, self.nid, self.nmk, my_nonce=self._nonce)
        self._send(b, n)
        self._key_pending = True
        self._key_deadline = clock.ticks_add(clock.ticks_ms(), _SETKEY_WAIT)
        self._kick()

    def rekey(self):
        """A fresh NMK/NID into the local modem (after a session that disclosed the key)."""
        self.nmk = keys.new_nmk(self._rng)
        self.nid = keys.nid_from_nmk(self.nmk)
        self._disclosed = False
        self.key_ok = False
        self._key_tries = 0
        self._set_key()

    def start(self):
        """Configure the modem's key; matching follows the pilot."""
        self._key_tries = 0
        self._set_key()

    # ---- pilot coupling ------------------------------------------------------------

    def pilot(self, cp, duty):
        """Feed the debounced CP state (firmware.iec61851.states) and duty (per mille)."""
        prev_cp = self._cp
        self._cp = cp
        self._duty = duty
        plugged = cp == _CP_B or cp == _CP_C or cp == _CP_D
        if self.state == MATCHED:
            if not plugged:
                self._end("pilot %d" % cp)
            return
        if plugged and duty == _DUTY_HLC:
            if self.state == OFF:
                self._listen()
            elif self.matched is None:
                self._toggle(prev_cp, cp)
            return
        if self.state != OFF:
            self._end("pilot %d duty %d" % (cp, duty))

    def on_event(self, kind, arg):
        """A ``firmware.events.Bus`` subscriber: follows the charger's CP state and duty."""
        if kind == EV_CP_STATE:
            self.pilot(arg, self._duty)
        elif kind == EV_DUTY:
            self.pilot(self._cp, arg)

    def _toggle(self, prev, cp):
        # validation: C -> B after B -> C is one BCB toggle
        for s in self.sessions:
            if s.state == S_TOGGLES:
                if cp == _CP_C:
                    s.cp_c = True
                elif cp == _CP_B and prev == _CP_C and s.cp_c:
                    s.toggles += 1
                    s.cp_c = False

    def _listen(self):
        self._set_state(WAITING)
        self._deadline = clock.ticks_add(clock.ticks_ms(), self.slac_init_ms)
        self._kick()

    def _end(self, why):
        """Leave matching (pilot left B/C/D or 5 %, or the link did not come up)."""
        was = self.state
        for s in self.sessions:
            s.clear()
        self.matched = None
        self._set_state(OFF)
        if was != OFF:
            log.info(_TAG, "%s: stopped (%s)", self.name, why)
        if self._disclosed:
            self.rekey()

    def link_established(self):
        """The higher layer saw the car on the link (stops TT_match_join)."""
        self._joined = True

    # ---- receive -------------------------------------------------------------------

    def on_frame(self, buf, n):
        """One received Ethernet frame (0x88E1 or anything else; foreign ones are ignored)."""
        st = self.stats
        mt = mme.mmtype_of(buf, n)
        h = self._handlers.get(mt) if mt >= 0 else None
        if h is None:
            st["rx_ignored"] += 1
            return
        m = self._m
        try:
            mme.decode(buf, n, m)
        except mme.MmeError as e:
            st["rx_bad"] += 1
            log.warn(_TAG, "%s: dropped %s: %s", self.name, mme.NAMES.get(mt, "MME"), e)
            return
        if same(buf, 6, self.mac):
            st["rx_ignored"] += 1  # our own frame echoed back
            return
        if not (same(buf, 0, self.mac) or same(buf, 0, mme.BROADCAST)):
            st["foreign"] += 1  # another charger's conversation on the shared medium
            return
        st["rx"] += 1
        h(m, buf)

    def _find(self, buf, o_mac, o_run):
        for s in self.sessions:
            if s.state != S_FREE and same(buf, o_mac, s.ev_mac) and (
                o_run < 0 or same(buf, o_run, s.run_id)
            ):
                return s
        return None

    def _on_parm_req(self, m, buf):
        if self.state != WAITING and self.state != MATCHING:
            self.stats["rx_ignored"] += 1
            return
        if m.app_type != mme.APP_PEV_EVSE or m.sec_type != mme.SEC_NONE:
            self.stats["rx_ignored"] += 1
            return
        s = self._find(buf, 6, m.o_run_id)
        if s is not None:
            if s.state == S_WAIT_START:  # our CNF was lost: answer again
                self.stats["duplicates"] += 1
                self._parm_cnf(s)
            else:
                self.stats["duplicates"] += 1
            return
        s = self._find(buf, 6, -1)  # same car, new run ID: it restarted
        if s is None:
            for t in self.sessions:
                if t.state == S_FREE:
                    s = t
                    break
        if s is None:
            self.stats["no_slot"] += 1
            return
        s.clear()
        s.ev_mac[:] = buf[6:12]
        s.run_id[:] = buf[m.o_run_id : m.o_run_id + 8]
        s.num_sounds = C_EV_MATCH_MNBC
        self.stats["sessions"] += 1
        self._set_state(MATCHING)
        self._parm_cnf(s)

    def _parm_cnf(self, s):
        b = self._buf()
        n = mme.slac_parm_cnf(b, s.ev_mac, self.mac, s.run_id, s.ev_mac, C_EV_MATCH_MNBC,
                              TT_EVSE_MATCH_MNBC // 100)
        self._send(b, n)
        self._arm(s, S_WAIT_START, TT_MATCH_SEQUENCE)

    def _arm(self, s, state, ms):
        s.state = state
        s.deadline = clock.ticks_add(clock.ticks_ms(), ms)
        self._kick()

    def _on_start_atten(self, m, buf):
        s = self._find(buf, 6, m.o_run_id)
        if s is None:
            self.stats["rx_ignored"] += 1
            return
        if s.state != S_WAIT_START:
            self.stats["duplicates"] += 1  # the 2nd and 3rd of C_EV_start_atten_char_inds
            return
        if m.num_sounds == 0 or m.num_sounds > 64:
            self.stats["rx_bad"] += 1
            return
        s.num_sounds = m.num_sounds
        w = m.time_out if m.time_out <= _MAX_TIMEOUT_UNITS else _MAX_TIMEOUT_UNITS
        s.window = w * 100 if w * 100 > TT_EVSE_MATCH_MNBC else TT_EVSE_MATCH_MNBC
        self._arm(s, S_SOUNDING, s.window)

    def _on_sound(self, m, buf):
        s = self._find(buf, 6, m.o_run_id)
        if s is None or s.state != S_SOUNDING:
            self.stats["rx_ignored"] += 1
            return
        s.sounds += 1
        if m.cnt == 0 or s.sounds >= s.num_sounds:
            s.sounds_done = True
        if self.atten == "synth":
            self._add_synth(s)
        self._maybe_done(s)

    def _add_synth(self, s):
        self.stats["synth_profiles"] += 1
        s.groups = mme.MAX_GROUPS
        i = 0
        while i < mme.MAX_GROUPS:
            s.sums[i] += self.synth_db
            i += 1
        s.profiles += 1

    def _on_profile(self, m, buf):
        if self.atten == "synth":
            return
        s = self._find(buf, m.o_pev_mac, -1)
        if s is None or s.state != S_SOUNDING or m.num_groups == 0:
            self.stats["rx_ignored"] += 1
            return
        if s.profiles and m.num_groups != s.groups:
            self.stats["rx_bad"] += 1
            return
        s.groups = m.num_groups
        i = 0
        o = m.o_aag
        while i < s.groups:
            s.sums[i] += buf[o + i]
            i += 1
        s.profiles += 1
        self._maybe_done(s)

    def _maybe_done(self, s):
        if s.sounds_done and s.profiles >= s.sounds:
            self._atten_char(s)

    def _finish_sounding(self, s):
        if self.atten != "modem" and s.profiles == 0 and s.sounds:
            k = s.sounds
            while k:
                self._add_synth(s)
                k -= 1
        if s.profiles == 0:
            self._fail(s, "no attenuation profile")
            return
        self._atten_char(s)

    def _atten_char(self, s):
        n = s.profiles
        i = 0
        while i < s.groups:
            s.avg[i] = (s.sums[i] + n // 2) // n
            i += 1
        s.avg_n = n
        s.tries = 0
        self._send_atten_char(s)

    def _send_atten_char(self, s):
        b = self._buf()
        k = mme.atten_char_ind(b, s.ev_mac, self.mac, s.ev_mac, s.run_id, s.avg_n, s.avg, s.groups)
        self._send(b, k)
        self._arm(s, S_WAIT_RSP, TT_MATCH_RESPONSE)

    def _on_atten_rsp(self, m, buf):
        s = self._find(buf, 6, m.o_run_id)
        if s is None or s.state != S_WAIT_RSP:
            self.stats["duplicates" if s is not None else "rx_ignored"] += 1
            return
        if m.result != 0:
            self._fail(s, "ATTEN_CHAR.RSP result %d" % m.result)
            return
        self._arm(s, S_WAIT_MATCH, TT_EVSE_MATCH_SESSION)

    def _on_validate(self, m, buf):
        s = self._find(buf, 6, -1)
        if s is None or s.state < S_WAIT_RSP or s.state == S_MATCHED:
            self.stats["rx_ignored"] += 1
            return
        if not self.validate:
            self._validate_cnf(s, 0, mme.VAL_NOT_REQUIRED)
            return
        if m.timer == 0:
            if s.state == S_TOGGLES:
                self.stats["duplicates"] += 1
                return
            self._validate_cnf(s, 0, mme.VAL_READY)
            self._arm(s, S_VALIDATE, TT_EVSE_MATCH_SESSION)
            return
        if s.state == S_VALIDATE:
            s.toggles = 0
            s.cp_c = self._cp == _CP_C
            ms = m.timer * 100
            if ms > TT_EVSE_VALD_TOGGLE:
                ms = TT_EVSE_VALD_TOGGLE
            self._arm(s, S_TOGGLES, ms)  # the answer goes out when the window closes

    def _validate_cnf(self, s, toggles, result):
        b = self._buf()
        n = mme.validate_cnf(b, s.ev_mac, self.mac, toggles, result)
        self._send(b, n)

    def _on_match_req(self, m, buf):
        s = self._find(buf, m.o_pev_mac, m.o_run_id)
        if s is None or not same(buf, 6, s.ev_mac) or not same(buf, m.o_evse_mac, self.mac):
            self.stats["rx_ignored"] += 1
            return
        if s.state == S_MATCHED:
            self.stats["duplicates"] += 1  # our CNF was lost
        elif s.state < S_WAIT_RSP or s.state == S_TOGGLES:
            self.stats["rx_ignored"] += 1
            return
        b = self._buf()
        n = mme.slac_match_cnf(b, s.ev_mac, self.mac, s.ev_mac, self.mac, s.run_id, self.nid,
                               self.nmk, pev_id=m.field(m.o_pev_id, mme.ID_LEN),
                               evse_id=self.evse_id)
        self._send(b, n)
        self._disclosed = True
        if s.state == S_MATCHED:
            return
        s.state = S_MATCHED
        self.matched = s
        for t in self.sessions:
            if t is not s and t.state != S_FREE:
                t.clear()  # the other cars chose, or will choose, another charger
        self.stats["matched"] += 1
        self._set_state(MATCHED)
        self._joined = False
        if self.join_ms:
            self._deadline = clock.ticks_add(clock.ticks_ms(), self.join_ms)
        log.info(_TAG, "%s: matched %s (%d dB over %d sounds)", self.name, _hex(s.ev_mac),
                 s.mean_db(), s.avg_n)
        if self.on_matched is not None:
            self.on_matched(s)

    def _on_set_key_cnf(self, m, buf):
        if not self._key_pending or not same(buf, m.o_your_nonce, self._nonce):
            self.stats["rx_ignored"] += 1
            return
        self._key_pending = False
        if m.result == 0 or m.result == 1:
            self.key_ok = True
            self.stats["setkey_ok"] += 1
        else:
            self.stats["setkey_refused"] += 1
            log.warn(_TAG, "%s: modem refused the key (%d)", self.name, m.result)

    # ---- timers --------------------------------------------------------------------

    def poll(self):
        """Run the timers that are due (the task calls this; tests may call it directly)."""
        now = clock.ticks_ms()
        if self._key_pending and clock.ticks_diff(now, self._key_deadline) >= 0:
            self._key_pending = False
            self.stats["setkey_timeout"] += 1
            self._key_tries += 1
            if self._key_tries < _SETKEY_TRIES:
                self._set_key()
            else:
                log.error(_TAG, "%s: no CM_SET_KEY.CNF from the modem", self.name)
        if self.state == WAITING and clock.ticks_diff(now, self._deadline) >= 0:
            self.stats["failed"] += 1
            self._set_state(FAILED)
            if self.on_failed is not None:
                self.on_failed("TT_EVSE_SLAC_init")
            return
        if self.state == MATCHED:
            if self.join_ms and not self._joined and clock.ticks_diff(now, self._deadline) >= 0:
                self._end("TT_match_join")
                if self._cp == _CP_B or self._cp == _CP_C or self._cp == _CP_D:
                    self._listen()
            return
        for s in self.sessions:
            if s.state != S_FREE and s.state != S_MATCHED:
                if clock.ticks_diff(now, s.deadline) >= 0:
                    self._expired(s)

    def _expired(self, s):
        st = s.state
        if st == S_SOUNDING:
            self._finish_sounding(s)
        elif st == S_WAIT_RSP:
            if s.tries < C_EV_MATCH_RETRY:
                s.tries += 1
                self.stats["atten_retry"] += 1
                self._send_atten_char(s)
            else:
                self._fail(s, "no ATTEN_CHAR.RSP")
        elif st == S_TOGGLES:
            self._validate_cnf(s, s.toggles, mme.VAL_SUCCESS if s.toggles else mme.VAL_FAILURE)
            self._arm(s, S_WAIT_MATCH, TT_EVSE_MATCH_SESSION)
        else:
            self._fail(s, "timeout in %s" % SESSION_NAMES[st])

    def _fail(self, s, why):
        log.info(_TAG, "%s: session %s failed: %s", self.name, _hex(s.ev_mac), why)
        s.clear()
        self.stats["failed"] += 1
        if self.state == MATCHING:
            for t in self.sessions:
                if t.state != S_FREE:
                    return
            self._listen()  # the car may repeat the matching (TT_matching_repetition)
            if self.on_failed is not None:
                self.on_failed(why)

    def _next_ms(self):
        now = clock.ticks_ms()
        best = _IDLE_WAIT
        if self._key_pending:
            best = _min_until(best, now, self._key_deadline)
        if self.state == WAITING or (self.state == MATCHED and self.join_ms and not self._joined):
            best = _min_until(best, now, self._deadline)
        for s in self.sessions:
            if s.state != S_FREE and s.state != S_MATCHED:
                best = _min_until(best, now, s.deadline)
        return best

    async def run(self):
        """Start (CM_SET_KEY) and serve the timers until cancelled."""
        self.start()
        while True:
            self.poll()
            ms = self._next_ms()
            self._wake.clear()
            if ms > 0:
                try:
                    await _wait_ms(self._wake.wait(), ms)
                except asyncio.TimeoutError:
                    pass


def _min_until(best, now, t):
    d = clock.ticks_diff(t, now)
    if d < 0:
        d = 0
    return d if d < best else best


def _hex(b):
    return ":".join("%02x" % x for x in b)
