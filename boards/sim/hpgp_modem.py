"""What a real Green PHY modem does for its own host, added to the register-level model.

``LocalModem(model)`` hooks a ``boards.sim.qca7000.Qca7000Model``:

- CM_SET_KEY.REQ from the host to the modem's local address (00:b0:52:00:00:01, or the
  broadcast some hosts use) is consumed, the NMK/NID remembered (``nmk``, ``nid``) and
  answered with CM_SET_KEY.CNF carrying ``setkey_result`` (1 by default: what real QCA
  modems send on success, although the HomePlug spec says 0).
- Each CM_MNBC_SOUND.IND heard on the medium reaches the host, followed (when
  ``profiles``) by a CM_ATTEN_PROFILE.IND from the modem with ``atten(pev_mac)`` dB on
  every one of the 58 groups (the sound's carrier attenuation, as measured by the modem).

Faults: ``drop_setkey`` (CNFs swallowed), ``profiles = False`` (a modem that never sends
profiles). Common subset (runs under MicroPython too).
"""
from firmware.slac import mme

_GROUPS = 58


class LocalModem:
    def __init__(self, model, atten=30, profiles=True, setkey_result=1, mac=mme.LOCAL_MODEM,
                 host_mac=None):
        self.model = model
        self.mac = bytes(mac)
        self.atten = atten  # dB, or f(pev_mac) -> dB
        self.profiles = profiles
        self.setkey_result = setkey_result
        self.drop_setkey = 0
        self.nmk = None
        self.nid = None
        self.host_mac = bytes(host_mac) if host_mac else None
        self.setkeys = 0
        self.profiles_sent = 0
        self.tap = None  # f(modem, frame): host <-> modem frames, for a pcap writer
        self._m = mme.Mme()
        self._buf = bytearray(160)
        self._orig_rx = model.receive_from_medium
        model.on_host_frame = self._host_frame
        model.receive_from_medium = self._from_medium
        model.hpgp = self

    def _host_frame(self, frame):
        """The host sent a frame: True if it was for the modem itself."""
        n = len(frame)
        if mme.mmtype_of(frame, n) != mme.CM_SET_KEY_REQ:
            return False
        if frame[0:6] != self.mac and frame[0:6] != mme.BROADCAST:
            return False
        m = self._m
        try:
            mme.decode(frame, n, m)
        except mme.MmeError:
            return True  # the modem drops a malformed request
        self.setkeys += 1
        if self.tap is not None:
            self.tap(self, frame)
        self.host_mac = bytes(frame[6:12])
        self.nmk = m.field(m.o_nmk, mme.NMK_LEN)
        self.nid = m.field(m.o_nid, mme.NID_LEN)
        if self.drop_setkey:
            self.drop_setkey -= 1
            return True
        b = self._buf
        k = mme.set_key_cnf(b, self.host_mac, self.mac, self.setkey_result, b"\x5a\x5a\x5a\x5a",
                            m.field(m.o_my_nonce, 4), m.pid, m.prn, m.pmn)
        self._to_host(bytes(b[:k]))
        return True

    def _from_medium(self, frame):
        self._orig_rx(frame)
        if not self.profiles or mme.mmtype_of(frame, len(frame)) != mme.CM_MNBC_SOUND_IND:
            return
        pev = bytes(frame[6:12])
        db = self.atten(pev) if callable(self.atten) else self.atten
        b = self._buf
        dst = self.host_mac or mme.BROADCAST
        k = mme.atten_profile_ind(b, dst, self.mac, pev, bytes([db]) * _GROUPS)
        self.profiles_sent += 1
        self._to_host(bytes(b[:k]))

    def _to_host(self, frame):
        if self.tap is not None:
            self.tap(self, frame)
        self._orig_rx(frame)
