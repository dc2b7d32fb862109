"""QCA7000 serial framing around an Ethernet frame, and the byte-wise receive decoder.

On the wire (SPI, both directions) an Ethernet frame travels as::

    AA AA AA AA | len (LE16) | 00 00 | frame (len bytes, >= 60) | 55 55

In the modem's read buffer every such frame is preceded by a 4-byte big-endian
hardware length (the framed size: len + 10), whose first two bytes are zero.

``FrameDecoder`` follows the byte-wise state machine of the Linux qca_7k_common
decoder, with one change: the hardware length and start-of-frame pattern are matched
on a sliding 8-byte window, so after garbage it resynchronises on the next frame
wherever it starts instead of only at a byte that happens to follow a reset.
"""
from micropython import const
import struct

SOF_LEN = const(8)  # AA AA AA AA len len 00 00
EOF_LEN = const(2)  # 55 55
HW_PKT_LEN = const(4)  # the read buffer's per-frame length word
OVERHEAD = const(10)  # SOF_LEN + EOF_LEN
MIN_LEN = const(60)  # Ethernet minimum without FCS: shorter frames are padded
MAX_LEN = const(1518)  # 1500 + 14 + VLAN tag

_SOF = const(0xAA)
_EOF = const(0x55)

# Decoder states. HUNT covers the hardware length and the four AA bytes.
ST_HUNT = const(0)
ST_LEN0 = const(1)
ST_LEN1 = const(2)
ST_RSV0 = const(3)
ST_RSV1 = const(4)
ST_DATA = const(5)
ST_EOF0 = const(6)
ST_EOF1 = const(7)

# feed() results (a complete frame returns its length, > 0)
GATHER = const(-1)
HEADER = const(0)


def write_header(buf, n):
    """Start-of-frame and length for an n-byte frame at ``buf[0:8]``."""
    buf[0] = _SOF
    buf[1] = _SOF
    buf[2] = _SOF
    buf[3] = _SOF
    struct.pack_into("<HH", buf, 4, n, 0)


def write_footer(buf, off):
    buf[off] = _EOF
    buf[off + 1] = _EOF


class FrameDecoder:
    """Byte-wise decoder of the modem's read stream.

    ``feed(buf, i, end, dst)`` consumes ``buf[i:end]`` and stops early when a frame is
    complete (returns its length, the frame is in ``dst[0:n]``) or when a header has just
    been accepted (returns HEADER: the next ``flen`` bytes are the frame, which the
    caller may read straight into ``dst`` and then hand over with ``payload_done()``).
    ``pos`` is where it stopped. Errors are counted, never raised: ``garbage`` (bytes
    skipped while hunting for a header), ``invlen`` (length out of bounds or disagreeing
    with the hardware length), ``notail`` (no 55 55 after the frame).
    """

    def __init__(self, max_len=MAX_LEN):
        self.max_len = max_len
        self._win = bytearray(8)
        self.garbage = 0
        self.invlen = 0
        self.notail = 0
        self.state = ST_HUNT
        self.reset()

    def reset(self):
        """Back to hunting; returns True if a frame was cut off."""
        cut = self.state != ST_HUNT
        self.state = ST_HUNT
        self._wi = 0
        self._cnt = 0
        self.flen = 0
        self.hwlen = 0
        self.off = 0
        self.pos = 0
        return cut

    def busy(self):
        """True while a frame is partly decoded."""
        return self.state != ST_HUNT or self._cnt != 0

    def need(self):
        """Bytes to read so that a read ends exactly at the end of a header (0 once the
        header is in: the frame body follows)."""
        st = self.state
        if st == ST_HUNT:
            return 12 - self._match_len()
        if st < ST_DATA:
            return 5 - st
        return 0

    def _match_len(self):
        # Longest suffix of the window that is a prefix of 00 00 ?? ?? AA AA AA AA.
        win = self._win
        cnt = self._cnt
        wi = self._wi
        s = 7 if cnt > 7 else cnt
        while s > 0:
            ok = True
            j = 0
            while j < s:
                b = win[(wi - s + j) & 7]
                if j < 2:
                    if b != 0:
                        ok = False
                        break
                elif j >= 4 and b != _SOF:
                    ok = False
                    break
                j += 1
            if ok:
                return s
            s -= 1
        return 0

    def feed(self, buf, i, end, dst):
        win = self._win
        while i < end:
            b = buf[i]
            i += 1
            st = self.state
            if st == ST_HUNT:
                if self._cnt == 8:
                    # the oldest byte leaves the window without having made a header
                    self.garbage += 1
                else:
                    self._cnt += 1
                wi = self._wi
                win[wi] = b
                wi = (wi + 1) & 7
                self._wi = wi
                if (
                    b == _SOF
                    and self._cnt == 8
                    and win[wi] == 0
                    and win[(wi + 1) & 7] == 0
                    and win[(wi + 4) & 7] == _SOF
                    and win[(wi + 5) & 7] == _SOF
                    and win[(wi + 6) & 7] == _SOF
                ):
                    self.hwlen = (win[(wi + 2) & 7] << 8) | win[(wi + 3) & 7]
                    self._cnt = 0
                    self.state = ST_LEN0
            elif st == ST_LEN0:
                self.flen = b
                self.state = ST_LEN1
            elif st == ST_LEN1:
                self.flen |= b << 8
                self.state = ST_RSV0
            elif st == ST_RSV0:
                self.state = ST_RSV1
            elif st == ST_RSV1:
                n = self.flen
                if n < MIN_LEN or n > self.max_len or self.hwlen != n + OVERHEAD:
                    self.invlen += 1
                    self.state = ST_HUNT
                    continue
                self.off = 0
                self.state = ST_DATA
                self.pos = i
                return HEADER
            elif st == ST_DATA:
                dst[self.off] = b
                self.off += 1
                if self.off == self.flen:
                    self.state = ST_EOF0
            elif st == ST_EOF0:
                if b != _EOF:
                    self.notail += 1
                    self.state = ST_HUNT
                else:
                    self.state = ST_EOF1
            else:
                self.state = ST_HUNT
                if b != _EOF:
                    self.notail += 1
                else:
                    self.pos = i
                    return self.flen
        self.pos = i
        return GATHER

    def payload_done(self):
        """The caller has put the ``flen`` frame bytes into dst itself."""
        self.off = self.flen
        self.state = ST_EOF0

    def abandon(self):
        """The announced frame cannot be read (the buffer holds fewer bytes)."""
        self.invlen += 1
        self.state = ST_HUNT
