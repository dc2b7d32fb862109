"""Control pilot states as IEC 61851-1 names them."""
from micropython import const

A = const(0)  # no vehicle (+12 V)
B = const(1)  # vehicle connected, not ready (+9 V)
C = const(2)  # vehicle ready, charging (+6 V)
D = const(3)  # vehicle ready, ventilation required (+3 V)
E = const(4)  # CP shorted to PE / no supply (0 V)
F = const(5)  # EVSE not available (-12 V driven by the EVSE)
UNKNOWN = const(6)  # not measured yet, or between bands long enough to matter

NAMES = "ABCDEF?"


def name(state):
    return NAMES[state]
