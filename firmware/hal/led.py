"""Status LED."""
from micropython import const

OFF = const(0)
IDLE = const(1)  # steady green
PLUGGED = const(2)  # slow blink
CHARGING = const(3)  # breathing / fast blink
PAUSED = const(4)
FAULT = const(5)  # red

NAMES = ("off", "idle", "plugged", "charging", "paused", "fault")


class StatusLed:
    """Base for a board's LED driver: ``show(mode)`` with one of the modes above."""

    def __init__(self):
        self.mode = OFF

    def show(self, mode):
        self.mode = mode
