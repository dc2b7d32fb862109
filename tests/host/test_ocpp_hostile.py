"""The hostile backend: hypothesis-generated frames from the central system against the
whole charge point (the firmware's App on the simulated board, its OCPP client, a
transaction running or not), then a power cut and a boot from the persisted state.

The client must not crash, must keep answering (GetConfiguration, TriggerMessage and the
Heartbeat it triggers), must send only schema-valid messages (the `ocpp` library's
OCPP 1.6 schemas), and what it persisted (OCPP configuration, the transaction journal,
the session log, every other file under the filesystem root) must load after the reboot
with the values the firmware had; once an honest backend takes over, every transaction
is complete there and none is duplicated.

Builds on tests/host/test_ocpp_fuzz.py (the RPC endpoint and the WebSocket client on
their own; its garbage-frame strategy is reused here). The frame tests run over an
in-memory link in the simulator's virtual time (no sockets, so idle waits cost
nothing); the last test sends hostile WebSocket frames (binary, oversized, fragmented,
control frames out of order...) over a real loopback connection.

CPython only: hypothesis and the `ocpp` library do not run under MicroPython.
"""
import asyncio
import json
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ocpp_messages = pytest.importorskip("ocpp.messages")

import tools  # noqa: E402,F401
from boards.sim.board import World  # noqa: E402
from firmware import config  # noqa: E402
from firmware.iec61851 import charger as chg  # noqa: E402
from firmware.main import App  # noqa: E402
from firmware.ocpp import chargepoint, rpc, txq  # noqa: E402
from firmware.ocpp import config as ocpp_config  # noqa: E402
from firmware.ocpp.backoff import Backoff  # noqa: E402
from firmware.session.record import SessionRecord  # noqa: E402
from firmware.storage import kv  # noqa: E402
from lib import log  # noqa: E402
from tests.common.test_ocpp_loopback import Server, frame  # noqa: E402
from tests.host.ocpp_rig import stop_tasks  # noqa: E402
from tests.host.test_ocpp_fuzz import _frames as _rpc_garbage  # noqa: E402
from tests.host.test_ocpp_fuzz import _json  # noqa: E402
from tools.sim import vtime  # noqa: E402

NOW = "2026-11-21T08:00:00Z"
CFG = {"auth": "external", "rcd_self_test": False, "checkpoint_s": 1}
OCPP = {"MeterValueSampleInterval": 2}
TAG = "TAG1"
_REBOOT_FLAG = 2  # firmware.ocpp.config: a key whose change waits for the next boot


# ---- an honest backend behind an in-memory link ------------------------------------------

_FORMATS = {}


def schema_error(mtype, action, payload):
    """What the OCPP 1.6 JSON schema (with date-time formats) finds wrong, or None."""
    from jsonschema import Draft4Validator, FormatChecker

    key = (mtype, action)
    if key not in _FORMATS:
        try:
            v = ocpp_messages.get_validator(mtype, action, "1.6")
            _FORMATS[key] = Draft4Validator(v.schema, format_checker=FormatChecker(formats=["date-time"]))
        except Exception:  # an action the library has no schema for (security extension)
            _FORMATS[key] = None
    v = _FORMATS[key]
    if v is None:
        return None
    errs = [e.message for e in v.iter_errors(payload)]
    return "; ".join(errs) if errs else None


class Backend:
    """Answers every CALL of the charge point as a correct central system would, tallies
    transactions, checks each message against the schemas and keeps the charge point's
    answers to our CALLs (by unique id)."""

    def __init__(self, spoil=None):
        self.spoil = dict(spoil or {})  # action -> a broken answer for its first CALL
        self.spoiled = []
        self.tx = {}  # backend id -> {"start": payload, "stop": payload or None, "mv": n}
        self.dups = []
        self.unknown = []
        self.invalid = []
        self.calls = []
        self.answers = {}
        self._starts = {}

    def on_frame(self, link, text):
        msg = json.loads(text)  # the charge point always sends JSON
        assert type(msg) is list and msg[0] in (2, 3, 4), text
        if msg[0] != 2:
            self.answers[msg[1]] = msg
            return
        _t, uid, action, p = msg
        self.calls.append(action)
        err = schema_error(2, action, p)
        if err:
            self.invalid.append((action, err))
        bad = self.spoil.pop(action, None)
        if bad is not None:  # a failed attempt: the backend did not take the message
            self.spoiled.append(action)
            link.feed(json.dumps([bad[0], uid] + bad[1:]))
            return
        link.feed(json.dumps([3, uid, self.answer(action, p)]))

    def answer(self, action, p):
        ok = {"status": "Accepted"}
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": NOW, "interval": 600}  # persisted
        if action == "Heartbeat":
            return {"currentTime": NOW}
        if action == "Authorize":
            return {"idTagInfo": ok}
        if action == "StartTransaction":
            key = (p["idTag"], p["meterStart"], p["timestamp"])
            if key in self._starts:
                self.dups.append(("StartTransaction", key))
                return {"transactionId": self._starts[key], "idTagInfo": ok}
            tid = len(self.tx) + 1
            self._starts[key] = tid
            self.tx[tid] = {"start": p, "stop": None, "mv": 0}
            return {"transactionId": tid, "idTagInfo": ok}
        if action == "StopTransaction":
            t = self.tx.get(p["transactionId"])
            if t is None:
                self.unknown.append(("StopTransaction", p["transactionId"]))
            elif t["stop"] is not None:
                self.dups.append(("StopTransaction", p["transactionId"]))
            else:
                t["stop"] = p
            return {}
        if action == "MeterValues" and "transactionId" in p:
            t = self.tx.get(p["transactionId"])
            if t is None:
                self.unknown.append(("MeterValues", p["transactionId"]))
            else:
                t["mv"] += 1
        if action == "DataTransfer":
            return {"status": "UnknownVendorId"}
        return {}

    def check_complete(self):
        assert self.invalid == [], self.invalid
        assert self.dups == [] and self.unknown == [], (self.dups, self.unknown)
        for tid, t in self.tx.items():
            assert t["stop"] is not None, "transaction %d never stopped" % tid
            assert t["stop"]["meterStop"] >= t["start"]["meterStart"]


class Link:
    """In-memory connection: the charge point's frames go straight to the backend;
    ``feed`` queues what the central system sends."""

    def __init__(self, backend):
        self.backend = backend
        self.closed = False
        self._in = []
        self._ev = asyncio.Event()

    async def send(self, text):
        if self.closed:
            raise OSError("closed")
        self.backend.on_frame(self, text)

    async def recv(self):
        while not self._in:
            if self.closed:
                raise EOFError("closed")
            self._ev.clear()
            await self._ev.wait()
        return self._in.pop(0)

    def feed(self, msg):
        self._in.append(msg)
        self._ev.set()

    async def close(self):
        self.closed = True
        self._ev.set()


class Box:
    """The firmware with OCPP on a simulated board; ``power_cut()``/``boot()`` restart it
    from its persisted state."""

    def __init__(self, root, backend, connect=None, url=None):
        self.root = root
        self.backend = backend
        self.url = url
        self.world = World(root, ev={"target_wh": 10 ** 6, "react_ms": 200})
        self.board = self.world.board
        self.board.pp.cable_ohms = 220
        self.resets = []
        self.link = None
        self._connect_fn = connect or self._link
        self._tasks = []
        self._world = None

    async def _link(self):
        self.link = Link(self.backend)
        return self.link

    def boot(self):
        self.board.power_on()
        self.app = App(self.board, config.make(CFG))
        self.cp = chargepoint.attach(self.app, self.url, cp_id="CP_H", connect=None if self.url else self._connect_fn,
                                     reset_hook=self.resets.append, cfg_overrides=OCPP, timeout_ms=5000)
        self._tasks = [asyncio.create_task(self.app.run()),
                       asyncio.create_task(self.cp.run(Backoff(first_ms=50, max_ms=200)))]
        if self._world is None:
            self._world = asyncio.create_task(self.world.run())

    async def power_cut(self):
        await stop_tasks(self._tasks)
        self.board.power_off()

    async def shutdown(self):
        await self.power_cut()
        self._world.cancel()


async def until(pred, what, limit_s=60):
    for _ in range(int(limit_s * 50)):
        if pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


# ---- what "the same persisted state" means -------------------------------------------------

def persisted_config(cp):
    """Every key as GetConfiguration reports it; a reboot-required key as it was saved."""
    out = {}
    for name, _kind, flags, _d in ocpp_config.keys():
        if not flags & _REBOOT_FLAG:
            out[name] = cp.cfg.items([name])[0][0][1]
    return out, cp.status.available


def journal_view(q):
    return list(q.pending), list(q.open), dict(q.map), q.last_started


def files(root):
    out = {}
    for dirpath, _d, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = f.read()
    return out


class Errors:
    """A log sink keeping the errors the firmware logs (a boot must log none)."""

    def __init__(self):
        self.lines = []

    def __call__(self, _ticks, level, tag, text):
        if level >= log.ERROR:
            self.lines.append("%s: %s" % (tag, text))


# ---- frames a hostile central system sends -----------------------------------------------------

_ENUMS = ["Accepted", "Rejected", "Soft", "Hard", "Operative", "Inoperative", "Full", "Differential",
          "ChargePointMaxProfile", "TxDefaultProfile", "TxProfile", "Absolute", "Recurring", "Relative",
          "Daily", "Weekly", "A", "W", "BootNotification", "Heartbeat", "MeterValues",
          "StatusNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification",
          "Blocked", "Expired", "Invalid", "ConcurrentTx", "HeartbeatInterval",
          "MeterValueSampleInterval", "MeterValuesSampledData", "AuthorizationKey", "LocalAuthListEnabled",
          "WebSocketPingInterval", "TransactionMessageAttempts", "NumberOfConnectors", "Nope"]
_big = st.sampled_from([21, 51, 256, 501, 9000]).map(lambda n: "Z" * n)
_value = st.one_of(
    st.integers(-2, 3), st.integers(-2 ** 63, 2 ** 63), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.none(), st.sampled_from(_ENUMS), st.text(max_size=25), _big,
    st.sampled_from([NOW, "2026-11-21T08:00:00.123+02:00", "2099-01-01T00:00:00Z", "2026-13-45T99:99:99Z",
                     "yesterday", "http://127.0.0.1:9/fw.bin", "ftp://x/y", "", TAG, "1", "60", "true",
                     "Energy.Active.Import.Register,Voltage"]),
    _json,
)
# Every action a central system sends to a 1.6 charge point, with its fields (and the
# fields of the objects it nests), so that payloads look right often enough to get past
# the validation into the handlers.
_FIELDS = {
    "CancelReservation": "reservationId",
    "ChangeAvailability": "connectorId type",
    "ChangeConfiguration": "key value",
    "ClearCache": "",
    "ClearChargingProfile": "id connectorId chargingProfilePurpose stackLevel",
    "DataTransfer": "vendorId messageId data",
    "GetCompositeSchedule": "connectorId duration chargingRateUnit",
    "GetConfiguration": "key",
    "GetDiagnostics": "location retries retryInterval startTime stopTime",
    "GetLocalListVersion": "",
    "RemoteStartTransaction": "connectorId idTag chargingProfile",
    "RemoteStopTransaction": "transactionId",
    "ReserveNow": "connectorId expiryDate idTag parentIdTag reservationId",
    "Reset": "type",
    "SendLocalList": "listVersion localAuthorizationList updateType",
    "SetChargingProfile": "connectorId csChargingProfiles",
    "TriggerMessage": "requestedMessage connectorId",
    "UnlockConnector": "connectorId",
    "UpdateFirmware": "location retries retrieveDate retryInterval",
    "CertificateSigned": "certificateChain",
    "DeleteCertificate": "certificateHashData",
    "ExtendedTriggerMessage": "requestedMessage connectorId",
    "GetInstalledCertificateIds": "certificateType",
    "GetLog": "log logType requestId retries retryInterval",
    "InstallCertificate": "certificateType certificate",
    "SignedUpdateFirmware": "firmware requestId retries retryInterval",
}
assert set(_FIELDS) == set(rpc.CSMS_ACTIONS.split())
_SCHEDULE = ("duration startSchedule chargingRateUnit minChargingRate", "startPeriod limit numberPhases")
_PROFILE = "chargingProfileId transactionId stackLevel chargingProfilePurpose chargingProfileKind " \
           "recurrencyKind validFrom validTo"


def _obj(names, value=_value):
    names = names.split()
    return st.fixed_dictionaries({}, optional={n: value for n in names}) if names else st.just({})


_period = _obj(_SCHEDULE[1])
_schedule = st.tuples(_obj(_SCHEDULE[0]), st.lists(_period, max_size=4)).map(
    lambda t: dict(t[0], chargingSchedulePeriod=t[1]))
_profile = st.tuples(_obj(_PROFILE), _schedule | _value).map(lambda t: dict(t[0], chargingSchedule=t[1]))
_auth_entry = st.tuples(st.text(max_size=22) | st.just(TAG), st.one_of(st.none(), _obj("status expiryDate parentIdTag"))
                        ).map(lambda t: {"idTag": t[0], "idTagInfo": t[1]} if t[1] is not None else {"idTag": t[0]})
_NESTED = {
    "chargingProfile": _profile | _value,
    "csChargingProfiles": _profile | _value,
    "localAuthorizationList": st.lists(_auth_entry, max_size=5) | _value,
    "key": st.lists(st.sampled_from(_ENUMS) | _big, max_size=4) | _value,
}


def _payload(action):
    names = _FIELDS[action].split()
    fields = {n: _NESTED.get(n, _value) for n in names}
    return st.fixed_dictionaries({}, optional=fields) if names else st.one_of(st.just({}), _json)


_ids = st.text(min_size=1, max_size=36) | st.sampled_from(["1", "probe", "x" * 37, ""])
_calls = st.sampled_from(sorted(_FIELDS)).flatmap(
    lambda a: st.tuples(st.just(2), _ids, st.just(a), _payload(a) | _value).map(lambda t: json.dumps(list(t))))
_stray = st.one_of(  # answers to calls nobody made, wrong message types, broken JSON
    st.tuples(st.sampled_from([3, 4]), _ids, _json).map(lambda t: json.dumps(list(t))),
    st.tuples(st.just(4), _ids, st.sampled_from(["GenericError", "NotImplemented", "x" * 300]), _value, _value)
    .map(lambda t: json.dumps(list(t))),
    st.tuples(st.sampled_from([0, 1, 5, 6, -1, 2.0, "2", None, True]), _ids, _value).map(lambda t: json.dumps(list(t))),
    _calls.map(lambda s: s[:max(1, len(s) // 2)]),  # truncated
    st.just("[2, " * 2000 + "]"),  # too deep for any parser
    st.just(json.dumps([2, "big", "DataTransfer", {"vendorId": "v", "data": "Q" * 60000}])),
)
_frame = st.one_of(_calls, _calls, _calls, _stray, _rpc_garbage)
# Broken answers to the charge point's own calls, each one a failed attempt whatever the
# action (Authorize left out: an unanswered one is an offline authorisation, and the
# session of the test would not start).
_broken = st.one_of(
    st.tuples(st.just(4), st.sampled_from(["GenericError", "InternalError", "x" * 300, ""]) | _value,
              _value, _value).map(list),
    st.tuples(st.just(3), _json.filter(lambda x: type(x) is not dict)).map(list),
    st.just([3]), st.just([3, {"a": 1}, 2]),
)
_spoils = st.dictionaries(st.sampled_from(["BootNotification", "StatusNotification", "Heartbeat",
                                           "StartTransaction", "StopTransaction", "MeterValues"]),
                          _broken, max_size=3)


# ---- the tests ----------------------------------------------------------------------------

def _hostile_session(frames, charging, spoil=None):
    root = tempfile.mkdtemp(prefix="evse-hostile-")
    errors = Errors()
    saved_level, log.level = log.level, log.ERROR
    log.set_sink(errors)

    async def main():
        backend = Backend(spoil)
        box = Box(root, backend)
        box.boot()
        try:
            await until(lambda: box.cp.registered.is_set() and box.cp.status.sent >= 2, "boot", 120)
            # persisted state worth losing: a setting changed by the backend
            box.link.feed(json.dumps([2, "set-1", "ChangeConfiguration", {"key": "ConnectionTimeOut", "value": "77"}]))
            await until(lambda: "set-1" in backend.answers, "ChangeConfiguration answered")
            if charging:
                box.world.ev.plug()
                await until(lambda: box.app.session.plugged, "plugged")
                assert await box.cp.tx.authorize(TAG) == "Accepted"
                await until(lambda: box.app.charger.state == chg.CHARGING, "charging")
                await until(lambda: backend.tx and backend.tx[1]["mv"], "a transaction at the backend", 300)
            link = box.link
            for f in frames:
                link.feed(f)
                await asyncio.sleep(0.2)
            assert box.link is link and not link.closed  # nothing ended the connection
            # still answering: GetConfiguration, and a triggered Heartbeat
            link.feed(json.dumps([2, "probe-1", "GetConfiguration", {"key": ["HeartbeatInterval"]}]))
            await until(lambda: "probe-1" in backend.answers, "GetConfiguration answered")
            a = backend.answers["probe-1"]
            assert a[0] == 3 and a[2]["configurationKey"][0]["key"] == "HeartbeatInterval", a
            assert schema_error(3, "GetConfiguration", a[2]) is None
            beats = backend.calls.count("Heartbeat")
            link.feed(json.dumps([2, "probe-2", "TriggerMessage", {"requestedMessage": "Heartbeat"}]))
            await until(lambda: "probe-2" in backend.answers and backend.calls.count("Heartbeat") > beats,
                        "triggered Heartbeat")
            assert backend.answers["probe-2"][2] == {"status": "Accepted"}
            assert errors.lines == [], errors.lines  # no handler failed, nothing went unhandled

            # the power goes: what is on the filesystem is what the firmware had
            cfg_before = persisted_config(box.cp)
            q_before = journal_view(box.cp.txq)
            rec = box.app.record
            done_before = [dict(r) for r in rec.done]
            open_sid = box.app.session.current.sid if box.app.session.current else None
            await box.power_cut()
            on_disk = files(root)
            assert journal_view(txq.TxQueue(os.path.join(root, "ocpp_tx.log"))) == q_before
            disk_rec = SessionRecord(os.path.join(root, "sessions.log"))
            assert disk_rec.done == done_before
            assert (disk_rec.open or {}).get("id") == open_sid
            for name, data in on_disk.items():  # every saved document whole (kv.Store files)
                if data.startswith(b"#kv1"):
                    assert kv.decode(data) is not None, name

            box.world.ev.unplug()  # the car leaves while the power is off
            box.boot()
            assert errors.lines == [], errors.lines  # every file loaded at boot
            assert persisted_config(box.cp) == cfg_before
            q = box.cp.txq
            pending, opened, mapped, last = journal_view(q)
            assert pending[:len(q_before[0])] == q_before[0] and opened == []
            assert mapped == q_before[2] and last == q_before[3]
            # the transactions a power loss cut got their StopTransaction, nothing else
            assert len(pending) - len(q_before[0]) == len(q_before[1])
            await until(lambda: len(q) == 0 and box.cp.registered.is_set(), "journal delivered", 600)
            backend.check_complete()
            if charging:  # the session the frames hit, stopped by them or by the power cut
                assert backend.tx[1]["start"]["idTag"] == TAG and backend.tx[1]["mv"] >= 1
            return backend
        finally:
            await box.shutdown()

    try:
        return vtime.run(main())
    finally:
        log.set_sink(None)
        log.level = saved_level
        shutil.rmtree(root, ignore_errors=True)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_frame, min_size=1, max_size=10), st.booleans(), _spoils)
def test_hostile_frames_never_crash_the_client_nor_corrupt_its_state(frames, charging, spoil):
    """Frames from the central system, some answers to the charge point's calls broken."""
    _hostile_session(frames, charging, spoil)


def test_every_csms_action_with_garbage_reaches_a_handler_or_an_error():
    """The deterministic floor under the random test: each action, once with a payload of
    the wrong type and once with every field a huge string, answered and survived."""
    frames = []
    for i, a in enumerate(sorted(_FIELDS)):
        frames.append(json.dumps([2, "w%d" % i, a, ["not", "an", "object"]]))
        frames.append(json.dumps([2, "h%d" % i, a, dict((n, "Z" * 600) for n in _FIELDS[a].split())]))
    backend = _hostile_session(frames, True)
    for i, _a in enumerate(sorted(_FIELDS)):
        w, h = backend.answers["w%d" % i], backend.answers["h%d" % i]
        assert w[0] == 4 and w[2] in ("FormationViolation", "TypeConstraintViolation", "NotSupported"), w
        assert h[0] in (3, 4), h


def test_the_check_fails_on_a_lost_stop():
    """The backend's check can fail: a transaction without its StopTransaction."""
    b = Backend()
    b.answer("StartTransaction", {"idTag": TAG, "meterStart": 1, "timestamp": NOW, "connectorId": 1})
    with pytest.raises(AssertionError):
        b.check_complete()
    b.answer("StopTransaction", {"transactionId": 1, "meterStop": 2, "timestamp": NOW})
    b.check_complete()
    b.answer("StopTransaction", {"transactionId": 1, "meterStop": 2, "timestamp": NOW})
    with pytest.raises(AssertionError):
        b.check_complete()


# ---- hostile WebSocket frames over a real loopback connection ----------------------------------

_ws_frames = st.one_of(
    st.binary(max_size=40).map(lambda b: frame(2, b)),  # a binary message
    st.sampled_from([9000, 70000]).map(lambda n: frame(1, b"[" * n)),  # over the 8 KB limit
    st.just(frame(1, b"\xff\xfe[2,")),  # not UTF-8
    st.binary(max_size=20).map(lambda b: frame(1, b, fin=False) + frame(9, b"p") + frame(0, b"]")),
    st.just(frame(0, b"orphan continuation")),
    st.just(frame(9, b"x" * 126)),  # a control frame too long
    st.just(frame(1, b"[]", rsv=0x40)),  # reserved bit without an extension
    st.integers(3, 7).map(lambda op: frame(op, b"?")),  # reserved opcodes
    st.just(frame(1, b"x", length=1 << 40)[:10]),  # announced 1 TB, then nothing more
    _calls.map(lambda s: frame(1, s.encode())),  # or just a hostile OCPP frame
)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_ws_frames, min_size=1, max_size=3))
def test_hostile_websocket_frames_then_the_client_reconnects_and_answers(chunks):
    """Whatever the frames do to the connection (the client may close it: a protocol
    error), the client stays up, reconnects and answers the next central system."""
    backend = Backend()
    conns = []

    async def script(conn):
        n = len(conns)
        conns.append(conn)
        deadline = 200
        if n == 0:  # the first connection: registration, then the hostile frames
            text = await conn.recv_text()
            msg = json.loads(text)
            assert msg[2] == "BootNotification"
            await conn.send_text(json.dumps([3, msg[1], backend.answer("BootNotification", msg[3])]))
            for c in chunks:
                await conn.send_raw(c)
            await asyncio.sleep(0.2)
        # then (again, or on the next connection) a well-behaved backend with a probe
        await conn.send_text(json.dumps([2, "probe-%d" % n, "GetConfiguration", {"key": ["HeartbeatInterval"]}]))
        while deadline:
            deadline -= 1
            f = await conn.recv_data()
            if f is None or f.opcode == 8:
                return None
            msg = json.loads(f.payload.decode())
            if msg[0] == 2:
                await conn.send_text(json.dumps([3, msg[1], backend.answer(msg[2], msg[3])]))
            elif msg[1] == "probe-%d" % n:
                return msg
        return None

    async def main():
        srv = await Server(script).start()
        box = Box(tempfile.mkdtemp(prefix="evse-hostile-ws-"), backend, url=srv.url)
        box.boot()
        try:
            for _ in range(500):
                if any(r is not None for r in srv.results):
                    break
                await asyncio.sleep(0.02)
            return [r for r in srv.results if r is not None]
        finally:
            await box.shutdown()
            await srv.stop()
            shutil.rmtree(box.root, ignore_errors=True)

    saved_level, log.level = log.level, log.ERROR + 10
    try:
        answers = asyncio.run(main())
    finally:
        log.level = saved_level
    assert answers, "no probe answered"
    a = answers[0]
    assert a[0] == 3 and a[2]["configurationKey"][0]["key"] == "HeartbeatInterval"
    assert backend.invalid == []
