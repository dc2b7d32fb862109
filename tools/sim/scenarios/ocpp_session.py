"""Scenario: ocpp_session (real time, against a central system)."""
from firmware.iec61851 import charger as chg
from tools.sim.scenarios import CABLE_32A, contactor_opens, expect_record, unplug_and_idle

TAG = "04E91C5A"
_REGISTER = "Energy.Active.Import.Register"


def check_backend(rec, result):
    """What the central system must have recorded: one complete transaction of TAG,
    its meter readings consistent with the wallbox's meter, nothing twice."""
    bad = []
    if rec["duplicates"] or rec["unknown"]:
        bad.append("duplicates %s, unknown %s" % (rec["duplicates"], rec["unknown"]))
    acts = [m[1] for m in rec["messages"]]
    if acts.count("BootNotification") != 1:
        bad.append("%d BootNotifications (want 1)" % acts.count("BootNotification"))
    auth = [m[2].get("idTag") for m in rec["messages"] if m[1] == "Authorize"]
    if auth != [TAG]:
        bad.append("Authorize of %s (want [%s])" % (auth, TAG))
    txs = rec["transactions"]
    if len(txs) != 1:
        bad.append("%d transactions (want 1)" % len(txs))
        return bad
    t = txs[0]
    if t["id_tag"] != TAG:
        bad.append("transaction of %s (want %s)" % (t["id_tag"], TAG))
    stop = t["stop"]
    if stop is None:
        bad.append("no StopTransaction")
        return bad
    if stop.get("reason") != "EVDisconnected":
        bad.append("stop reason %s (want EVDisconnected)" % stop.get("reason"))
    wh = stop["meter_stop"] - t["meter_start"]
    if result is not None and wh != result["wh"]:
        bad.append("meterStop - meterStart = %d Wh, the wallbox's session %d Wh" % (wh, result["wh"]))
    if wh <= 0:
        bad.append("no energy in the transaction (%d Wh)" % wh)
    regs = []
    for mvs in t["meter_values"]:
        for mv in mvs:
            for sv in mv["sampled_value"]:
                if sv.get("measurand", _REGISTER) == _REGISTER:
                    regs.append(float(sv["value"]))
    if len(regs) < 2:
        bad.append("%d energy readings in MeterValues (want >= 2)" % len(regs))
    if regs != sorted(regs) or (regs and not t["meter_start"] <= regs[0] <= regs[-1] <= stop["meter_stop"]):
        bad.append("energy readings %s not within %d..%d and rising" % (regs, t["meter_start"], stop["meter_stop"]))
    return bad


DESCRIPTION = ("plug in, the central system starts the session remotely (or an RFID tag it "
               "authorises), charge, unplug: OCPP in real time")
# the embedded central system starts a session remotely when the connector turns Preparing
SETUP = dict(realtime=True, in_all=True, heap_kb=512, check_backend=check_backend,
             csms={"remote_start_tag": TAG},
             cfg={"auth": "external", "max_current_a": 16, "checkpoint_s": 1},
             ocpp={"MeterValueSampleInterval": 1},
             ev={"max_current_a": 32, "target_wh": 12, "react_ms": 300}, cable_ohms=CABLE_32A)


async def run(sim):
    cp = sim.app.ocpp
    await sim.until(lambda: cp.registered.is_set() and cp.status.sent >= 1, 15,
                    "registered with the central system, status sent")
    await sim.sleep(0.5)
    sim.ev.plug()
    await sim.until(lambda: sim.session.plugged, 2, "plugged")
    for _ in range(300):  # a RemoteStartTransaction, then the Authorize it asks for
        if sim.session.authorized():
            break
        await sim.sleep(0.01)
    else:  # a backend that does not start sessions itself: the user's RFID tag
        sim.note("RFID tag %s presented" % TAG)
        st = await cp.tx.authorize(TAG)
        sim.expect(st == "Accepted", "tag accepted by the backend (%s)" % st)
    await sim.until(lambda: sim.charger.state == chg.CHARGING and sim.board.contactor.actual, 5,
                    "charging with the contactor closed")
    await sim.until(sim.ev.full, 30, "the car reaches its target")
    await contactor_opens(sim, 3, "contactor opens when the car stops")
    await sim.sleep(1)
    await unplug_and_idle(sim)
    await sim.until(lambda: len(cp.txq) == 0, 15, "every transaction message delivered")
    last = expect_record(sim, "EVDisconnected")
    if last is not None:
        got = last.delivered_wh()
        want = sim.ev.received_wh()
        sim.expect(abs(got - want) <= want // 100 + 2, "metered energy matches the car's (%d/%d)" % (got, want))
        sim.result = {"wh": got, "car_wh": want}
    await sim.sleep(0.5)  # the last StatusNotification (Available)
