"""Control pilot: 1 kHz ±12 V PWM output and ADC sampling synchronised to it."""
from micropython import const

DUTY_STEADY_HIGH = const(1000)  # X1: steady +12 V, no PWM
DUTY_STEADY_LOW = const(0)  # steady -12 V: state F


class ControlPilot:
    """Base for a board's CP driver.

    ``set_duty(permille)``: 1000 is steady +12 V (no PWM, "X1"), 0 is steady -12 V
    (state F), anything between is a 1 kHz PWM with that duty.

    ``sample(highs, lows)`` fills the two preallocated arrays with raw ADC codes: one
    sample in the high phase and one in the low phase of consecutive PWM periods (with
    the output steady, both read the steady level). It returns how many pairs it took.
    Boards trigger the ADC from the PWM timer where the chip allows; the samples must
    not straddle an edge.

    Raw codes convert to millivolts at the CP line with the board's linear calibration:
    ``mv = (code - zero_code) * uv_per_code // 1000``. Codes at 0 or ``adc_max`` mean
    the front end is saturated or broken, never a valid reading.
    """

    FREQ_HZ = 1000

    def __init__(self, zero_code, uv_per_code, adc_max):
        self.zero_code = zero_code
        self.uv_per_code = uv_per_code
        self.adc_max = adc_max
        self.duty = DUTY_STEADY_HIGH

    def set_duty(self, permille):
        raise NotImplementedError

    def sample(self, highs, lows):
        raise NotImplementedError

    def to_mv(self, code):
        return (code - self.zero_code) * self.uv_per_code // 1000
