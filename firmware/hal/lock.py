"""Connector lock actuator with a feedback switch (socket outlets only)."""


class Lock:
    """Base for a board's lock driver.

    ``drive(locked)`` moves the actuator (a motor pulse or a solenoid; the board knows
    the pulse length); ``locked()`` reads the feedback switch.
    """

    def drive(self, locked):
        raise NotImplementedError

    def locked(self):
        raise NotImplementedError
