"""Fault codes of basic charging and how each one is handled.

``EMERGENCY`` faults open the contactor at once whatever the current (the standard's
100 ms limits); the others withdraw the offer first and open when the current is low or
the vehicle's grace time is over. ``UNTIL_UNPLUG`` faults stay latched until the
vehicle has been disconnected (CP state A); the others clear when their condition has
gone.
"""
from micropython import const

NONE = const(0)
RCD = const(1)  # residual current detected (6 mA DC module)
CP_SHORT = const(2)  # state E
DIODE = const(3)  # vehicle diode missing
VENTILATION = const(4)  # state D but the site has no ventilation
WELDED = const(5)  # mirror contact says closed while commanded open
CONTACTOR = const(6)  # contactor did not close when commanded
PP_OPEN = const(7)  # vehicle on CP but no coding resistor on PP
PP_INVALID = const(8)  # PP resistance matches no cable
PP_CHANGED = const(9)  # cable coding changed during a session
OVERCURRENT = const(10)  # vehicle draws more than offered
CP_ADC = const(11)  # CP front end saturated / out of range
CP_LEVEL = const(12)  # CP high plateau matches no state
LOCK = const(13)  # connector lock did not lock / lost lock
RCD_SELFTEST = const(14)  # RCD module failed its self-test
INTERNAL = const(15)  # the charger's own step raised: a driver or firmware bug

NAMES = (
    "none", "rcd", "cp_short", "diode", "ventilation", "welded", "contactor", "pp_open",
    "pp_invalid", "pp_changed", "overcurrent", "cp_adc", "cp_level", "lock", "rcd_selftest",
    "internal",
)

EMERGENCY = const(1)
UNTIL_UNPLUG = const(2)

_FLAGS = (
    0,  # none
    EMERGENCY | UNTIL_UNPLUG,  # rcd
    EMERGENCY,  # cp_short
    UNTIL_UNPLUG,  # diode
    UNTIL_UNPLUG,  # ventilation: the vehicle would ask again and again
    EMERGENCY,  # welded: nothing else can be done; cleared when the mirror says open
    0,  # contactor
    0,  # pp_open
    0,  # pp_invalid
    EMERGENCY | UNTIL_UNPLUG,  # pp_changed: the plug may be leaving the socket
    UNTIL_UNPLUG,  # overcurrent
    0,  # cp_adc
    0,  # cp_level
    UNTIL_UNPLUG,  # lock
    UNTIL_UNPLUG,  # rcd_selftest
    EMERGENCY | UNTIL_UNPLUG,  # internal
)


def flags(code):
    return _FLAGS[code]


def name(code):
    return NAMES[code]
