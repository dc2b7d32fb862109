"""A simulated HomePlug Green PHY segment: the control-pilot wire between modems.

Every frame one modem puts on the medium reaches every other attached modem (PLC is a
shared medium; logical networks by NMK/NID are the modems' business and are modelled
above this layer). Taps see every frame first, for a pcap writer or a test.
"""


class PlcMedium:
    """Connects two or more ``boards.sim.qca7000.Qca7000Model`` modems."""

    def __init__(self):
        self.modems = []
        self.taps = []
        self.frames = 0
        self.drop_next = 0  # fault injection: frames lost on the wire

    def attach(self, modem):
        if modem not in self.modems:
            self.modems.append(modem)
        modem.medium = self

    def detach(self, modem):
        if modem in self.modems:
            self.modems.remove(modem)
        if modem.medium is self:
            modem.medium = None

    def add_tap(self, func):
        """``func(sender, frame_bytes)`` for every frame put on the medium."""
        self.taps.append(func)

    def transmit(self, sender, frame):
        """Called by a modem with one Ethernet frame (bytes)."""
        self.frames += 1
        for tap in self.taps:
            tap(sender, frame)
        if self.drop_next:
            self.drop_next -= 1
            return
        for m in self.modems:
            if m is not sender:
                m.receive_from_medium(frame)
