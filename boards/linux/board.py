"""Linux board: a host or a Raspberry Pi with a HomePlug Ethernet adapter (the pyPLC setup).

There is no pilot, relay or meter wiring here: the network link (``rawlink.py``) is real,
the rest are stand-ins. The control pilot reports the plateau voltages of a configured
CP state (no car simulation) while following the duty the charger sets; contactor,
lock, RCD, meter and LED only log what the firmware asks of them.

``create(config=None)`` takes a dict (all keys optional):

- ``cp``: "A", "B", "C", "D" or "E", the state the "car" shows (default "B");
- ``diode``: the car's diode is there (default True; False makes the charger see a
  diode fault under PWM);
- ``slac_duty``: per-mille duty the SLAC side is told the pilot carries (default 50,
  i.e. 5 %: the charger has no high-level mode yet, so SLAC starts at once);
  "charger" makes SLAC follow the charger's own duty instead;
- ``pp_ohms``: the cable's coding resistor (default 220, a 32 A cable); None: a
  tethered cable (no PP, no lock);
- ``data_dir``: ``fs_root`` (default ./build/linux-data).
"""
from lib import log
from firmware import hal

_TAG = "board"

# A 12-bit front end spanning -12.3..+12.3 V: 6 mV per code around mid-scale.
ADC_MAX = 4095
ADC_ZERO = 2048
UV_PER_CODE = 6000
_PP_PULLUP = 1000

_LEVELS = {"A": 12000, "B": 9000, "C": 6000, "D": 3000, "E": 0}
CP_CODES = {"A": 0, "B": 1, "C": 2, "D": 3, "E": 4}  # firmware.iec61851.states

DEFAULTS = {"cp": "B", "diode": True, "slac_duty": 50, "pp_ohms": 220,
            "data_dir": "./build/linux-data"}


class BoardConfigError(ValueError):
    pass


def _code(mv):
    c = ADC_ZERO + mv * 1000 // UV_PER_CODE
    return 1 if c < 1 else (ADC_MAX - 1 if c >= ADC_MAX else c)


class PilotSource:
    """What the "car" shows on the pilot: a CP state letter and whether its diode is there.

    Change ``set(state)`` at run time (a host tool, a test); ``cp`` is the state number
    (firmware.iec61851.states) and ``slac_duty`` the duty SLAC is fed (None: the charger's).
    """

    def __init__(self, state="B", diode=True, slac_duty=50):
        self.diode = diode
        self.slac_duty = slac_duty
        self.set(state)

    def set(self, state):
        if state not in _LEVELS:
            raise BoardConfigError("cp must be one of A B C D E, not %r" % (state,))
        self.state = state
        self.cp = CP_CODES[state]
        self.level_mv = _LEVELS[state]


class SourcePilot(hal.ControlPilot):
    """CP whose samples are the plateaus of ``source``'s state under the duty as set."""

    def __init__(self, source):
        super().__init__(ADC_ZERO, UV_PER_CODE, ADC_MAX)
        self.source = source

    def set_duty(self, permille):
        if permille != self.duty:
            log.info(_TAG, "cp duty %d.%d %%", permille // 10, permille % 10)
        self.duty = permille

    def sample(self, highs, lows):
        src = self.source
        d = self.duty
        level = src.level_mv
        if d == 0:
            hi = lo = -12000  # state F: we drive -12 V ourselves
        elif d >= 1000:
            hi = lo = level  # steady: both phases read the plateau
        else:
            hi = level
            # the car's diode blocks the negative half: the line follows the source
            lo = -12000 if (src.diode or level == 12000) else -level
        ch = _code(hi)
        cl = _code(lo)
        n = len(highs)
        i = 0
        while i < n:
            highs[i] = ch
            lows[i] = cl
            i += 1
        return n


class FixedProximity(hal.ProximityPilot):
    """PP reading a fixed cable coding resistor."""

    def __init__(self, ohms):
        super().__init__(_PP_PULLUP, ADC_MAX)
        self._code = ADC_MAX * ohms // (ohms + _PP_PULLUP)

    def read_code(self):
        return self._code


class LogContactor(hal.Contactor):
    """Stand-in: no coil, no mirror contact; logs each command."""

    has_feedback = False

    def set(self, closed):
        if closed != self.commanded:
            log.info(_TAG, "contactor %s (stand-in)", "CLOSE" if closed else "OPEN")
        self.commanded = closed

    def feedback(self):
        return self.commanded


class LogLock(hal.Lock):
    """Stand-in: no actuator; reports what it was told (as a healthy lock would)."""

    def __init__(self):
        self._locked = False

    def drive(self, locked):
        if locked != self._locked:
            log.info(_TAG, "lock %s (stand-in)", "LOCK" if locked else "UNLOCK")
        self._locked = locked

    def locked(self):
        return self._locked


class LogRcd(hal.Rcd):
    """Stand-in for a healthy RCD module: trips only while its test input is on."""

    def __init__(self):
        self.test_on = False

    def tripped(self):
        return self.test_on

    def set_test(self, on):
        if on and not self.test_on:
            log.info(_TAG, "rcd self-test (stand-in)")
        self.test_on = on


class NullMeter(hal.Meter):
    """Stand-in: a meter that always answers and never counts (no energy flows here)."""

    def update(self):
        return True


class LogLed(hal.StatusLed):
    def show(self, mode):
        if mode != self.mode:
            log.info(_TAG, "led %s", hal.LED_NAMES[mode])
        self.mode = mode


class LinuxBoard(hal.Board):
    """The linux board; ``source`` is the pilot source, ``on_reboot`` ends the run loop."""

    name = "linux"

    def __init__(self, source, pp_ohms, fs_root):
        tethered = pp_ohms is None
        super().__init__(
            cp=SourcePilot(source),
            pp=None if tethered else FixedProximity(pp_ohms),
            contactor=LogContactor(),
            rcd=LogRcd(),
            lock=None if tethered else LogLock(),
            meter=NullMeter(),
            led=LogLed(),
            fs_root=fs_root,
        )
        self.source = source
        self.reboot_requested = False
        self.on_reboot = None  # set by whoever runs the loop

    def reboot(self):
        """No MCU to reset: end the run loop (the host supervisor may start it again)."""
        log.warn(_TAG, "reboot requested")
        self.reboot_requested = True
        if self.on_reboot is not None:
            self.on_reboot()


def create(config=None):
    """Build the linux board from ``config`` (see the module doc); BoardConfigError if bad."""
    c = dict(DEFAULTS)
    if config:
        for k in config:
            if k not in DEFAULTS:
                raise BoardConfigError("unknown board key %r" % (k,))
        c.update(config)
    sd = c["slac_duty"]
    if sd == "charger":
        sd = None
    elif type(sd) is not int or not 0 <= sd <= 1000:
        raise BoardConfigError("slac_duty must be 0..1000 or \"charger\"")
    pp = c["pp_ohms"]
    if pp is not None and (type(pp) is not int or not 0 < pp < 100000):
        raise BoardConfigError("pp_ohms must be a resistance in ohms or null")
    if type(c["diode"]) is not bool:
        raise BoardConfigError("diode must be true or false")
    src = PilotSource(c["cp"], c["diode"], sd)
    return LinuxBoard(src, pp, c["data_dir"])
