"""The OCPP status module's copy of the charger's state numbers (it does not import the
charger, to load in less RAM) must agree with the charger."""
import tools  # noqa: F401
from firmware.iec61851 import charger
from firmware.ocpp import status


def test_status_module_knows_the_charger_states():
    assert (status.IDLE, status.CONNECTED, status.READY, status.CHARGING, status.PAUSED,
            status.STOPPING, status.FINISHED, status.FAULT) == (
        charger.IDLE, charger.CONNECTED, charger.READY, charger.CHARGING, charger.PAUSED,
        charger.STOPPING, charger.FINISHED, charger.FAULT)
