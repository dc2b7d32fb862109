"""Proximity pilot: the cable's coding resistor between PP and PE, read through a pull-up."""

OPEN = -1  # no resistor seen: no cable, or the PP wire is broken


class ProximityPilot:
    """Base for a board's PP driver.

    The board has ``pullup_ohms`` from PP to its ADC reference; ``read_code()`` returns
    the raw ADC code (0..``adc_max``). ``ohms()`` turns it into the resistance, or
    ``OPEN`` when the line sits at the reference.
    """

    def __init__(self, pullup_ohms, adc_max):
        self.pullup_ohms = pullup_ohms
        self.adc_max = adc_max

    def read_code(self):
        raise NotImplementedError

    def ohms(self):
        code = self.read_code()
        top = self.adc_max - code
        # within 1 % of the reference: more than ~100x the pull-up, i.e. open
        if top * 100 <= self.adc_max:
            return OPEN
        return self.pullup_ohms * code // top
