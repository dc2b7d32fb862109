"""Type 2 cable coding through the PP resistor (IEC 61851-1 Annex B, IEC 62196-2)."""
from micropython import const

OPEN = const(-1)  # no cable in the socket (or a broken PP wire)
INVALID = const(-2)  # a resistance no cable uses: short, or out of every band

# (lowest ohms, highest ohms, cable ampacity in A); nominal 100/220/680/1500 ohms with the
# interpretation ranges of the standard's table.
_BANDS = ((75, 150, 63), (150, 330, 32), (330, 1000, 20), (1000, 2200, 13))
_OPEN_OHMS = const(4500)


def cable_amps(ohms):
    """Ampacity coded by ``ohms``: 13, 20, 32, 63, or OPEN / INVALID."""
    if ohms < 0 or ohms >= _OPEN_OHMS:
        return OPEN
    for lo, hi, amps in _BANDS:
        if lo <= ohms < hi:
            return amps
    return INVALID
