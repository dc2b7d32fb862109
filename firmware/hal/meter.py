"""Energy meter interface."""


class Meter:
    """Base for a board's meter driver.

    ``update()`` refreshes the readings in place (no allocation): ``energy_wh`` (the
    meter's cumulative import register), ``power_w``, ``current_ma`` and ``voltage_mv``
    (lists of three phases). It returns False when the meter did not answer.
    """

    def __init__(self):
        self.energy_wh = 0
        self.power_w = 0
        self.current_ma = [0, 0, 0]
        self.voltage_mv = [0, 0, 0]

    def update(self):
        raise NotImplementedError

    def max_current_ma(self):
        c = self.current_ma
        m = c[0]
        if c[1] > m:
            m = c[1]
        if c[2] > m:
            m = c[2]
        return m
