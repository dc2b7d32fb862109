"""The firmware's event bus: a charger or session change, fanned out to subscribers
(session controller, OCPP, the simulator's timeline). Kinds are small ints."""
from micropython import const

CP_STATE = const(0)  # arg: new debounced CP state
CHARGER_STATE = const(1)  # arg: new charger state
DUTY = const(2)  # arg: per-mille duty now on the CP
CONTACTOR = const(3)  # arg: True closed / False open (commanded)
FAULT = const(4)  # arg: fault code raised
FAULT_CLEARED = const(5)  # arg: fault code cleared
PLUGGED = const(6)  # arg: cable ampacity in A (or configured for tethered)
UNPLUGGED = const(7)
LOCK = const(8)  # arg: True locked / False unlocked
SESSION_STARTED = const(9)  # arg: session id
SESSION_ENDED = const(10)  # arg: stop reason string

NAMES = (
    "cp", "charger", "duty", "contactor", "fault", "fault_cleared", "plugged",
    "unplugged", "lock", "session_started", "session_ended",
)


class Bus:
    """Synchronous fan-out; subscribers must be quick and must not raise."""

    def __init__(self):
        self._subs = []

    def subscribe(self, func):
        self._subs.append(func)

    def emit(self, kind, arg=None):
        for func in self._subs:
            func(kind, arg)
