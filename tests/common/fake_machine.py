"""A fake ``machine`` module (and a small fake ``pyb``) for the HAL and board tests.

``install()`` puts this module into ``sys.modules['machine']`` (and the :class:`pyb`
class into ``sys.modules['pyb']``) before anything imports them; ``clear()`` forgets the
objects earlier tests made. Outputs record what the code drove, inputs return what a
test set, and a virtual microsecond :data:`clock` advances only when an ADC read or a
``sleep_us`` says so, so timing-dependent code runs deterministically on both runtimes.
"""
import sys

_MASK = (1 << 30) - 1

pins = {}
adcs = {}
uarts = {}
timers = []
pwms = []
spis = []
resets = []
events = []  # (pin id, level) of every output write, in order
record = [True]  # False: Pin.value() keeps no history (heap_lock tests)


def clear():
    pins.clear()
    adcs.clear()
    uarts.clear()
    del timers[:]
    del pwms[:]
    del spis[:]
    del resets[:]
    del events[:]
    record[0] = True
    clock.now = 0


def install():
    sys.modules["machine"] = sys.modules[__name__]
    sys.modules["pyb"] = pyb


class Clock:
    """Virtual ``time.ticks_us`` family (wrapping at 2**30 like a 32-bit port)."""

    def __init__(self):
        self.now = 0

    def ticks_us(self):
        return self.now & _MASK

    def ticks_diff(self, a, b):
        return ((a - b + (1 << 29)) & _MASK) - (1 << 29)

    def ticks_add(self, t, d):
        return (t + d) & _MASK

    def sleep_us(self, us):
        if us > 0:
            self.now += us


clock = Clock()


class Pin:
    IN = 1
    OUT = 2
    OPEN_DRAIN = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, value=None, **kw):
        self.id = id
        self.mode = mode
        self.pull = pull
        self.level = 0 if value is None else value
        self.history = []
        self.handler = None
        pins[id] = self

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = 1 if v else 0
        if record[0]:
            self.history.append(self.level)
            events.append((self.id, self.level))

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=None, **kw):
        self.handler = handler
        self.trigger = trigger


class PWM:
    def __init__(self, pin, freq=0, duty_u16=None, **kw):
        self.pin = pin
        self._freq = freq
        self.duty = duty_u16
        self.duties = [] if duty_u16 is None else [duty_u16]
        self.kw = kw
        pwms.append(self)

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f

    def duty_u16(self, d=None):
        if d is None:
            return self.duty
        if not 0 <= d <= 65535:
            raise ValueError("duty_u16 out of range")
        self.duty = d
        self.duties.append(d)

    def deinit(self):
        self.duty = None


class ADC:
    """``read_u16()`` returns ``value16``, or ``source(t_us)`` at the sample instant.

    Each read takes ``read_us`` of virtual time. With ``stall_every`` = k, every k-th read
    is delayed by ``stall_us`` *before* its sample is taken, like an interrupt that
    preempts the caller between its timestamp and the conversion.
    """

    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3

    def __init__(self, pin, atten=None, **kw):
        self.pin = pin
        self.att = atten
        self.value16 = 0
        self.source = None
        self.read_us = 0
        self.stall_every = 0
        self.stall_us = 0
        self.reads = 0
        adcs[getattr(pin, "id", pin)] = self

    def atten(self, a):
        self.att = a

    def read_u16(self):
        self.reads += 1
        if self.stall_every and self.reads % self.stall_every == 0:
            clock.now += self.stall_us
        v = self.value16 if self.source is None else self.source(clock.now)
        clock.now += self.read_us
        return v


class UART:
    """``responder(request_bytes)`` returns the bytes the far end answers (or b"")."""

    def __init__(self, id, baudrate=9600, **kw):
        self.id = id
        self.baudrate = baudrate
        self.kw = kw
        self.written = []
        self.rx = bytearray()
        self.pos = 0
        self.responder = None
        self.flushes = 0
        uarts[id] = self

    def write(self, buf):
        b = bytes(buf)
        self.written.append(b)
        if self.responder is not None:
            self.feed(self.responder(b))
        return len(b)

    def feed(self, data):
        self.rx = self.rx[self.pos:] + bytearray(data)
        self.pos = 0

    def any(self):
        return len(self.rx) - self.pos

    def readinto(self, buf, n=None):
        if n is None or n > len(buf):
            n = len(buf)
        avail = len(self.rx) - self.pos
        if n > avail:
            n = avail
        if n == 0:
            return None  # timeout, as on a device
        for i in range(n):
            buf[i] = self.rx[self.pos + i]
        self.pos += n
        return n

    def flush(self):
        self.flushes += 1


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, **kw):
        self.id = id
        self.active = False
        self.callback = None
        self.mode = None
        self.period = None
        timers.append(self)

    def init(self, mode=PERIODIC, period=-1, callback=None, freq=None, **kw):
        self.mode = mode
        self.period = period
        self.callback = callback
        self.active = True

    def deinit(self):
        self.active = False

    def fire(self):
        """What the hardware does when the period elapses."""
        if not self.active:
            return
        if self.mode == Timer.ONE_SHOT:
            self.active = False
        self.callback(self)


class SPI:
    def __init__(self, id, baudrate=1000000, polarity=0, phase=0, **kw):
        self.id = id
        self.baudrate = baudrate
        self.polarity = polarity
        self.phase = phase
        self.kw = kw
        spis.append(self)


def reset():
    resets.append(1)


def unique_id():
    return b"\x01\x02\x03\x04\x05\x06"


def freq(*_a):
    return 160000000


def disable_irq():
    return 0


def enable_irq(_state=0):
    pass


class pyb:
    """The few ``pyb`` classes the STM32 board uses (timer-paced ADC, timer PWM)."""

    class Pin:
        def __init__(self, name, *a, **kw):
            self.name = name

    class Timer:
        PWM = 0

        def __init__(self, id, freq=None, **kw):
            self.id = id
            self.freq = freq
            self.channels = {}

        def period(self):
            return 83999

        def channel(self, n, mode=None, pin=None, pulse_width_percent=None, **kw):
            ch = pyb.Channel(self, n)
            self.channels[n] = ch
            return ch

    class Channel:
        def __init__(self, tim, n):
            self.tim = tim
            self.n = n
            self.width = None

        def pulse_width(self, w=None):
            if w is None:
                return self.width
            self.width = w

    class ADC:
        burst_source = None  # fills the buffer, set by tests

        def __init__(self, pin):
            self.pin = pin
            self.bursts = 0

        def read(self):
            return 2048

        def read_timed(self, buf, timer):
            self.bursts += 1
            self.timer = timer
            if pyb.ADC.burst_source is not None:
                pyb.ADC.burst_source(buf)
            else:
                for i in range(len(buf)):
                    buf[i] = 2048
