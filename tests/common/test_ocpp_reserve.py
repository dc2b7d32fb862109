"""Reservation profile through the ChargePoint on a fake App with a scripted central
system: ReserveNow answers, the Reserved status, other idTags refused, parentIdTag,
reservationId in StartTransaction, CancelReservation, expiry, and a reboot."""
# the App, the simulated board and the whole OCPP client in one MicroPython heap
MPTEST_HEAP_KB = 320
from tests.common.test_ocpp_fake import FITS

if FITS:
    import asyncio

    from lib import clock
    from firmware.iec61851 import faults
    from firmware.ocpp import status as chg  # the charger's state numbers
    from firmware.ocpp import timefmt
    from tests.common.test_ocpp_fake import FakeApp, Rig
    from tests.common.test_storage_support import Sandbox

    FUTURE = "2099-01-01T00:00:00Z"

    def _run(body, root, **kw):
        async def main():
            rig = Rig(root, app=FakeApp(root), **kw)
            rig.start()
            try:
                await rig.until(lambda: len(rig.csms.actions("StatusNotification")) >= 2,
                                "boot+status")
                return await body(rig)
            finally:
                await rig.stop()
        return asyncio.run(main())

    def _reserve(rig, rid, tag, expiry=FUTURE, connector=1, parent=None):
        p = {"connectorId": connector, "expiryDate": expiry, "idTag": tag, "reservationId": rid}
        if parent:
            p["parentIdTag"] = parent
        return rig.call("ReserveNow", p)

    def _statuses(rig):
        return [p["status"] for p in rig.csms.actions("StatusNotification") if p["connectorId"] == 1]

    async def _status(rig, want):
        await rig.until(lambda: _statuses(rig)[-1] == want, want)

    def test_reserved_connector_serves_only_its_idtag_and_start_carries_the_id():
        async def body(rig):
            cs = rig.csms
            r = await _reserve(rig, 17, "OWNER")
            await _status(rig, "Reserved")
            other = await rig.cp.tx.authorize("STRANGER")
            other_auth = rig.app.session.authorized()
            remote = await rig.call("RemoteStartTransaction", {"idTag": "STRANGER"})
            occupied = await _reserve(rig, 18, "THIRD")
            mine = await rig.cp.tx.authorize("owner")  # idTags compare without case
            rig.app.plug()
            await rig.until(lambda: cs.actions("StartTransaction"), "start")
            return (r[2], other, other_auth, remote[2], occupied[2], mine,
                    cs.actions("StartTransaction")[0], rig.cp.reserve.current,
                    rig.cp.cfg.state("reservation"))
        with Sandbox("ocpp") as sb:
            got = _run(body, sb.dir)
        assert got[:6] == ({"status": "Accepted"}, "Reserved", False, {"status": "Rejected"},
                           {"status": "Occupied"}, "Accepted")
        assert got[6]["reservationId"] == 17 and got[6]["idTag"] == "owner"
        assert got[7] is None and got[8] is None  # used up, also on flash

    def test_parent_id_tag_from_the_list_or_the_authorize_answer():
        async def body(rig):
            cs = rig.csms
            await rig.call("SendLocalList", {"listVersion": 1, "updateType": "Full",
                                             "localAuthorizationList": [{"idTag": "KID1", "idTagInfo": {
                                                 "status": "Accepted", "parentIdTag": "FLEET"}}]})
            await _reserve(rig, 5, "BOSS", parent="FLEET")
            remote_kid = await rig.call("RemoteStartTransaction", {"idTag": "KID1"})  # list: FLEET
            await rig.until(lambda: rig.app.session.authorized(), "kid authorised")
            rig.app.session.deauthorize()
            cs.answers["Authorize"] = lambda p: {"idTagInfo": {
                "status": "Accepted", "parentIdTag": "FLEET" if p["idTag"] == "KID2" else "OTHER"}}
            stranger = await rig.cp.tx.authorize("KID3")
            kid2 = await rig.cp.tx.authorize("KID2")
            rig.app.plug()
            await rig.until(lambda: cs.actions("StartTransaction"), "start")
            return remote_kid[2], stranger, kid2, cs.actions("StartTransaction")[0]
        with Sandbox("ocpp") as sb:
            remote_kid, stranger, kid2, start = _run(body, sb.dir)
        assert remote_kid == {"status": "Accepted"} and stranger == "Reserved" and kid2 == "Accepted"
        assert start["idTag"] == "KID2" and start["reservationId"] == 5

    def test_reserve_now_answers():
        async def body(rig):
            app = rig.app
            out = [
                (await _reserve(rig, 1, "A", connector=0))[2],  # ReserveConnectorZeroSupported false
                (await _reserve(rig, 1, "A", connector=2))[2],
                (await _reserve(rig, 1, "A", expiry="2020-01-01T00:00:00Z"))[2],
            ]
            app.charger.enter(chg.FAULT, faults.RCD)
            out.append((await _reserve(rig, 1, "A"))[2])
            app.charger.enter(chg.IDLE)
            await rig.call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
            out.append((await _reserve(rig, 1, "A"))[2])
            await rig.call("ChangeAvailability", {"connectorId": 0, "type": "Operative"})
            app.plug()
            out.append((await _reserve(rig, 1, "A"))[2])
            app.unplug()
            out.append((await _reserve(rig, 1, "A"))[2])
            out.append((await _reserve(rig, 2, "B"))[2])  # another reservation holds it
            out.append((await _reserve(rig, 1, "C"))[2])  # the same id: replaced
            out.append(rig.cp.reserve.current[2])
            bad = await rig.call("ReserveNow", {"connectorId": 1, "idTag": "A", "reservationId": 3})
            out.append(bad[2])
            return out
        with Sandbox("ocpp") as sb:
            got = _run(body, sb.dir)
        assert [x["status"] if type(x) is dict else x for x in got] == [
            "Rejected", "Rejected", "Rejected", "Faulted", "Unavailable", "Occupied", "Accepted",
            "Occupied", "Accepted", "C", "ProtocolError"]

    def test_cancel_expiry_and_a_fault_end_the_reservation():
        async def body(rig):
            await _reserve(rig, 7, "A")
            await _status(rig, "Reserved")
            wrong = await rig.call("CancelReservation", {"reservationId": 8})
            ok = await rig.call("CancelReservation", {"reservationId": 7})
            await _status(rig, "Available")
            again = await rig.call("CancelReservation", {"reservationId": 7})
            soon = timefmt.iso(clock.time_s() + rig.cp.clock_offset_s + 1)
            await _reserve(rig, 9, "A", expiry=soon)
            await _status(rig, "Reserved")
            await _status(rig, "Available")  # expired: no call needed
            expired = rig.cp.cfg.state("reservation")
            await _reserve(rig, 10, "A")
            rig.app.charger.enter(chg.FAULT, faults.RCD)
            rig.app.charger.enter(chg.IDLE)
            after_fault = rig.cp.reserve.active()
            await _reserve(rig, 11, "A")
            await _status(rig, "Reserved")
            await rig.call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
            await _status(rig, "Unavailable")
            await rig.call("ChangeAvailability", {"connectorId": 0, "type": "Operative"})
            await _status(rig, "Available")  # the reservation did not come back
            assert rig.cp.cfg.state("reservation") is None
            return wrong[2], ok[2], again[2], expired, after_fault, _statuses(rig)
        with Sandbox("ocpp") as sb:
            wrong, ok, again, expired, after_fault, st = _run(body, sb.dir)
        assert (wrong, ok, again) == ({"status": "Rejected"}, {"status": "Accepted"},
                                      {"status": "Rejected"})
        assert expired is None and after_fault is None
        assert st[:5] == ["Available", "Reserved", "Available", "Reserved", "Available"]

    def test_a_reservation_survives_a_reboot():
        async def first(rig):
            return (await _reserve(rig, 21, "OWNER"))[2]

        async def second(rig):
            await _status(rig, "Reserved")
            refused = await rig.cp.tx.authorize("STRANGER")
            r = await rig.call("CancelReservation", {"reservationId": 21})
            await _status(rig, "Available")
            return refused, r[2]

        with Sandbox("ocpp") as sb:
            assert _run(first, sb.dir) == {"status": "Accepted"}
            assert _run(second, sb.dir) == ("Reserved", {"status": "Accepted"})
