"""TriggerMessage for the Core messages (RemoteTrigger profile): the answer first,
then the requested message."""
from lib import log
from firmware.ocpp import meter
from firmware.ocpp.rpc import RpcError

_TAG = "ocpp.trigger"

TRIGGER = {"requestedMessage": ("e!", ("BootNotification", "DiagnosticsStatusNotification",
                                       "FirmwareStatusNotification", "Heartbeat",
                                       "MeterValues", "StatusNotification")),
           "connectorId": ("i", 0)}


def install(cp):
    def trigger(p):
        what = p["requestedMessage"]
        n = p.get("connectorId")
        if n is not None and n > 1:
            return {"status": "Rejected"}

        async def go():
            try:
                if what == "BootNotification":
                    await cp.boot.send()
                elif what == "Heartbeat":
                    await cp.boot.beat()
                elif what == "StatusNotification":
                    cp.status.resend(n)
                elif what == "MeterValues":
                    await meter_values(cp, n or 1)
                else:  # Firmware/DiagnosticsStatusNotification: the current status
                    job = getattr(cp, "fw" if what[0] == "F" else "diag", None)
                    await cp.rpc.call(what, {"status": getattr(job, "status", "Idle")}, schema={})
            except RpcError as e:
                log.warn(_TAG, "triggered %s failed: %s", what, e)
        return {"status": "Accepted"}, go

    cp.rpc.on("TriggerMessage", trigger, TRIGGER)


async def meter_values(cp, n):
    """A MeterValues of the connector now (not journaled: no transaction message)."""
    p = {"connectorId": n, "meterValue": [{"timestamp": cp.now(), "sampledValue": meter.sampled(
        cp.app, cp.cfg.csl("MeterValuesSampledData") or ("Energy.Active.Import.Register",),
        "Trigger")}]}
    cur = cp.session.current
    tid = cp.txq.remote_id(cur.sid) if cur is not None else None
    if tid is not None:
        p["transactionId"] = tid
    await cp.rpc.call("MeterValues", p, schema={})
