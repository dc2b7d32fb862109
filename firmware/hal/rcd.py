"""Residual current device input: the 6 mA DC detector (RDC-DD) of the wallbox."""


class Rcd:
    """Base for a board's RCD module driver.

    ``tripped()`` is True while the module signals a fault. ``set_test(on)`` drives the
    module's test input (a test current through its sensing coil): a healthy module
    trips while it is on. ``reset()`` clears a latching module's output.
    """

    def tripped(self):
        raise NotImplementedError

    def set_test(self, on):
        raise NotImplementedError

    def reset(self):
        pass
