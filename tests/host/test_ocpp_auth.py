"""LocalAuthListManagement, the authorization cache and the Reservation profile of the
firmware App on the simulated board, against the embedded central system (tools.csms:
the `ocpp` library with schema validation on both directions) over a real loopback
WebSocket: SendLocalList / GetLocalListVersion, ReserveNow / CancelReservation,
ClearCache, a StartTransaction with its reservationId, the list after a reboot and in
use while the backend is down.

CPython only: the central system is a CPython library (websockets server).
"""
import pytest

pytest.importorskip("ocpp.routing")
pytest.importorskip("websockets")

import tools  # noqa: E402,F401
from firmware.iec61851 import charger as chg  # noqa: E402
from ocpp.v16 import call  # noqa: E402
from ocpp.v16.datatypes import AuthorizationData, IdTagInfo  # noqa: E402
from tests.host import ocpp_rig  # noqa: E402
from tests.host.ocpp_rig import until  # noqa: E402

# SendLocalListMaxLength as the client can take it: an entry with every field is up to
# ~165 bytes of JSON (with ", " separators), the WebSocket takes 8192-byte messages
# (ChargePoint's max_message); 100 such entries would close the connection (1009).
OCPP = {"MeterValueSampleInterval": 0, "HeartbeatInterval": 300, "SendLocalListMaxLength": 40}
FUTURE = "2099-01-01T00:00:00Z"
PAST = "2020-01-01T00:00:00Z"


def _run(body):
    return ocpp_rig.run(body, ocpp=OCPP)


def _entry(tag, status="Accepted", parent=None, expiry=None):
    return AuthorizationData(id_tag=tag, id_tag_info=IdTagInfo(
        status=status, parent_id_tag=parent, expiry_date=expiry))


def _send(cs, version, entries, kind="Full"):
    return cs.call("CP_1", call.SendLocalList(list_version=version, update_type=kind,
                                              local_authorization_list=entries))


async def _version(cs):
    return (await cs.call("CP_1", call.GetLocalListVersion())).list_version


def test_local_list_versions_and_answers_then_a_reboot_and_offline_use():
    async def body(cs, wb):
        out = {"v0": await _version(cs)}
        out["full"] = (await _send(cs, 1, [
            _entry("LIST1", parent="FLEET", expiry=FUTURE), _entry("BLOCK1", "Blocked"),
            _entry("OLD1", expiry=PAST)])).status
        out["diff"] = (await _send(cs, 2, [AuthorizationData(id_tag="BLOCK1"), _entry("LIST2")],
                                   "Differential")).status
        out["stale"] = (await _send(cs, 2, [_entry("X")], "Differential")).status
        out["too_many"] = (await _send(cs, 3, [_entry("T%d" % i) for i in range(41)])).status
        out["dup"] = (await _send(cs, 3, [_entry("D"), _entry("d")])).status
        out["v2"] = await _version(cs)
        # the largest update allowed, with every field: it must fit the WebSocket limit
        big = [_entry("BIG%017d" % i, parent="P%019d" % i, expiry="2099-01-01T00:00:00.000+00:00")
               for i in range(40)]
        out["big"] = (await _send(cs, 3, big, "Differential")).status
        out["v3"] = await _version(cs)
        await wb.reboot()
        await until(lambda: len(cs.boots) == 2 and "CP_1" in cs.connected, "second boot")
        out["after_reboot"] = await _version(cs)
        out["big_kept"] = wb.cp.auth.local("big%017d" % 39)
        await cs.stop_server()
        await until(lambda: not wb.cp.rpc.connected, "offline")
        got = []
        for t in ("LIST1", "BLOCK1", "OLD1", "LIST2", "NOBODY"):
            got.append(await wb.cp.tx.authorize(t))
            wb.app.session.deauthorize()
        out["offline"] = got
        await cs.start_server()
        await until(lambda: wb.cp.rpc.connected, "back")
        return out

    out = _run(body)
    assert out == {"v0": 0, "full": "Accepted", "diff": "Accepted", "stale": "VersionMismatch",
                   "too_many": "Failed", "dup": "Failed", "v2": 2, "big": "Accepted", "v3": 3,
                   "after_reboot": 3, "big_kept": ("Accepted", "P%019d" % 39),
                   "offline": ["Accepted", "Invalid", "Expired", "Accepted", "Invalid"]}


def test_reservation_start_carries_its_id_and_cache_is_cleared():
    async def body(cs, wb):
        c = lambda req: cs.call("CP_1", req)  # noqa: E731
        out = {}
        out["zero"] = (await c(call.ReserveNow(connector_id=0, expiry_date=FUTURE, id_tag="OWNER",
                                               reservation_id=41))).status
        out["reserve"] = (await c(call.ReserveNow(connector_id=1, expiry_date=FUTURE, id_tag="OWNER",
                                                  reservation_id=42, parent_id_tag="FLEET"))).status
        await until(lambda: cs.status[-1][1:3] == (1, "Reserved"), "Reserved")
        out["other"] = await cs.remote_start("CP_1", "STRANGER")
        out["busy"] = (await c(call.ReserveNow(connector_id=1, expiry_date=FUTURE, id_tag="X",
                                               reservation_id=43))).status
        await wb.reboot()  # the reservation is persisted
        await until(lambda: len(cs.boots) == 2 and "CP_1" in cs.connected, "second boot")
        out["after_reboot"] = wb.cp.reserve.current
        out["owner"] = await cs.remote_start("CP_1", "OWNER")
        wb.world.ev.plug()
        await until(lambda: wb.app.charger.state == chg.CHARGING, "charging")
        await until(lambda: cs.transactions, "started")
        out["cancel_used"] = (await c(call.CancelReservation(reservation_id=42))).status
        wb.app.session.request_stop("Local")
        await until(lambda: wb.app.charger.state == chg.FINISHED, "finished")
        wb.world.ev.unplug()
        await until(lambda: cs.actions("StopTransaction") and len(wb.cp.txq) == 0, "stopped")
        out["cached"] = wb.cp.auth.local("OWNER")
        out["clear"] = (await c(call.ClearCache())).status
        out["cleared"] = wb.cp.auth.local("OWNER")
        starts = [p for _c, a, p in cs.messages if a == "StartTransaction"]
        return out, starts, [s for _cp, n, s, _e in cs.status if n == 1]

    out, starts, statuses = _run(body)
    assert out == {"zero": "Rejected", "reserve": "Accepted", "other": "Rejected",
                   "busy": "Occupied", "after_reboot": [42, 1, "OWNER", "FLEET", 4070908800],
                   "owner": "Accepted", "cancel_used": "Rejected",
                   "cached": ("Accepted", None), "clear": "Accepted", "cleared": None}
    assert len(starts) == 1 and starts[0]["reservation_id"] == 42 and starts[0]["idTag"] == "OWNER"
    assert statuses[:2] == ["Available", "Reserved"] and "Charging" in statuses
