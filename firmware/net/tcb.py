"""TCP connection slot (``Tcb``), states, sequence arithmetic. Part of the TCP of ``firmware.net``."""
from micropython import const
import asyncio

CLOSED = const(0)
SYN_RCVD = const(1)
ESTABLISHED = const(2)
FIN_WAIT_1 = const(3)
FIN_WAIT_2 = const(4)
CLOSE_WAIT = const(5)
CLOSING = const(6)
LAST_ACK = const(7)
TIME_WAIT = const(8)
STATE_NAMES = ("CLOSED", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2",
               "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT")

DEFAULT_MSS = const(536)  # RFC 9293 3.7.1: when the peer sends no MSS option
RTO_INIT = const(1000)
OOO_SLOTS = const(4)
IW = const(14600)  # RFC 6928 initial window; our TX ring is smaller anyway
_M32 = const(0xFFFFFFFF)


def sd(a, b):
    """Signed 32-bit sequence difference a - b."""
    d = (a - b) & _M32
    if d & 0x80000000:
        return d - 0x100000000
    return d


def get32(b, o):
    return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]


def put32(b, o, v):
    b[o] = (v >> 24) & 0xFF
    b[o + 1] = (v >> 16) & 0xFF
    b[o + 2] = (v >> 8) & 0xFF
    b[o + 3] = v & 0xFF


class TcpError(OSError):
    pass


class Tcb:
    """One connection slot: state, sequence variables, rings and timers."""

    def __init__(self, rx_size, tx_size):
        self.rxbuf = bytearray(rx_size)
        self.rxmv = memoryview(self.rxbuf)
        self.txbuf = bytearray(tx_size)
        self.txmv = memoryview(self.txbuf)
        self.rip = bytearray(16)
        self.ooo_s = [0] * OOO_SLOTS
        self.ooo_e = [0] * OOO_SLOTS
        self.ev = asyncio.Event()
        self.gen = 0
        self.handle_open = False
        self.state = CLOSED
        self.error = None
        self._clear()

    def _clear(self):
        self.lport = 0
        self.rport = 0
        self.accepted = False
        self.eof = False
        self.iss = 0
        self.snd_una = 0
        self.snd_nxt = 0
        self.snd_max = 0
        self.snd_wnd = 0
        self.snd_wl1 = 0
        self.snd_wl2 = 0
        self.snd_mss = DEFAULT_MSS
        self.cwnd = IW
        self.fin_queued = False
        self.fin_sent = False
        self.fin_acked = False
        self.irs = 0
        self.rcv_nxt = 0
        self.rcv_adv = 0
        self.rx_head = 0
        self.rx_count = 0
        self.ooo_n = 0
        self.rfin = False
        self.rfin_seq = 0
        self.tx_head = 0
        self.tx_count = 0
        self.rto_ms = RTO_INIT
        self.srtt = 0
        self.rttvar = 0
        self.rtt_on = False
        self.rtt_seq = 0
        self.rtt_t = 0
        self.rto_on = False
        self.rto_at = 0
        self.retries = 0
        self.persist_on = False
        self.persist_at = 0
        self.persist_ms = RTO_INIT
        self.delack_on = False
        self.delack_at = 0
        self.last_rx = 0
        self.state_at = 0
        self.dupacks = 0

    def rx_free(self):
        return len(self.rxbuf) - self.rx_count

    def tx_free(self):
        return len(self.txbuf) - self.tx_count

    def state_name(self):
        return STATE_NAMES[self.state]

