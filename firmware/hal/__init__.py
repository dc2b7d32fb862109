"""Hardware abstraction: the narrow boundary between the firmware and a board.

Every board (``boards/<name>``) builds a :class:`Board` whose parts implement the classes
below. Only this package and ``boards/`` touch
``machine``; the simulated board implements the same classes, so the firmware cannot
tell a simulation from a wallbox.

Parts: ``ControlPilot`` (CP PWM and plateau sampling), ``ProximityPilot`` (PP
resistor), ``Contactor`` (with mirror contact), ``Rcd`` (6 mA DC detection), ``Lock``
(connector lock), ``Meter``, ``StatusLed``. They live in one module on purpose: each is a
few lines, and every module a device loads costs RAM of its own.
"""
from micropython import const


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
        self.duty = 1000  # steady +12 V until told otherwise

    def set_duty(self, permille):
        raise NotImplementedError

    def sample(self, highs, lows):
        raise NotImplementedError

    def to_mv(self, code):
        return (code - self.zero_code) * self.uv_per_code // 1000


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


class Contactor:
    """Base for a board's contactor driver.

    ``set(closed)`` drives the coil. ``feedback()`` reports what the mirror contact says
    about the main contacts (True: closed); boards without a mirror contact set
    ``has_feedback = False`` and return the commanded state.
    """

    has_feedback = True

    def __init__(self):
        self.commanded = False

    def set(self, closed):
        raise NotImplementedError

    def feedback(self):
        raise NotImplementedError


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


class Lock:
    """Base for a board's lock driver.

    ``drive(locked)`` moves the actuator (a motor pulse or a solenoid; the board knows
    the pulse length); ``locked()`` reads the feedback switch.
    """

    def drive(self, locked):
        raise NotImplementedError

    def locked(self):
        raise NotImplementedError


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


# Status LED modes
LED_OFF = const(0)
LED_IDLE = const(1)  # steady green
LED_PLUGGED = const(2)  # slow blink
LED_CHARGING = const(3)  # breathing / fast blink
LED_PAUSED = const(4)
LED_FAULT = const(5)  # red
LED_NAMES = ("off", "idle", "plugged", "charging", "paused", "fault")


class StatusLed:
    """Base for a board's LED driver: ``show(mode)`` with one of the LED_ modes above."""

    def __init__(self):
        self.mode = LED_OFF

    def show(self, mode):
        self.mode = mode


class Board:
    """A board's parts, built by ``boards/<name>/board.py:create()``.

    ``pp`` and ``lock`` are None on a tethered-cable wallbox. ``fs_root`` is the
    directory that survives power loss (littlefs on a device). ``reboot()`` restarts the
    MCU; the simulator overrides it to restart the firmware from its persisted state.
    """

    name = "board"

    def __init__(self, cp, pp, contactor, rcd, lock, meter, led, fs_root):
        self.cp = cp
        self.pp = pp
        self.contactor = contactor
        self.rcd = rcd
        self.lock = lock
        self.meter = meter
        self.led = led
        self.fs_root = fs_root

    def reboot(self):
        raise NotImplementedError

    def install_firmware(self, path):
        """Take the firmware image downloaded to ``path`` (OCPP UpdateFirmware): True
        when it is accepted and the next reboot runs it. A board without an update
        mechanism refuses (False)."""
        return False
