"""What a board hands to the firmware."""


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
