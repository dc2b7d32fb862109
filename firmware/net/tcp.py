"""TCP, server side (RFC 9293, RFC 6298 timers, RFC 5681 fast retransmit, RFC 5961 checks).

A fixed number of connection slots (``Tcb``) with preallocated ring buffers; segments
are copied straight between the frame buffers and the rings. Options: MSS only (we never
offer window scaling, SACK or timestamps, so the peer must not use them).
"""
from micropython import const
import asyncio
import random
from lib import clock
from firmware.net import ipv6
from firmware.net.eth import same
# Re-exported: ``firmware.net.tcp`` is the one import for users of TCP.
from firmware.net.tcb import (Tcb, TcpError, CLOSED, SYN_RCVD, ESTABLISHED, FIN_WAIT_1,  # noqa: F401
                              FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT, STATE_NAMES,
                              DEFAULT_MSS, sd as _sd, get32 as _get32)
from firmware.net.tcp_api import Conn, Listener  # noqa: F401
from firmware.net.tcp_rx import TcpRx


_FIN = const(0x01)
_SYN = const(0x02)
_RST = const(0x04)
_PSH = const(0x08)
_ACK = const(0x10)
_M32 = const(0xFFFFFFFF)
_HDR = const(20)
_RTO_MIN = const(200)
_RTO_MAX = const(8000)
_DELACK_MS = const(40)
_OOO_SLOTS = const(4)


class Tcp(TcpRx):
    """The TCP layer of a stack: listeners, connection slots, segment input, timers."""

    def __init__(self, stack, slots=2, rx_size=4096, tx_size=4096, idle_ms=60000, mss=None):
        self.st = stack
        self.tcbs = [Tcb(rx_size, tx_size) for _ in range(slots)]
        self.listeners = []
        self.idle_ms = idle_ms
        # Our MSS: what fits one Ethernet frame (and the receive ring).
        m = stack.l4_max - _HDR
        self.mss = m if mss is None else min(mss, m)

    def listen(self, port):
        for lst in self.listeners:
            if lst.port == port:
                return lst
        lst = Listener(self, port)
        self.listeners.append(lst)
        return lst

    def _listener(self, port):
        for lst in self.listeners:
            if lst.port == port:
                return lst
        return None

    def ram(self):
        """Bytes of preallocated ring buffers."""
        return sum(len(t.rxbuf) + len(t.txbuf) for t in self.tcbs)

    def _slot_for_syn(self):
        """A free slot; else one in TIME_WAIT or closed; else the least recently active one."""
        best = None
        best_rank = -1
        best_age = -1
        now = clock.ticks_ms()
        for t in self.tcbs:
            s = t.state
            if s == CLOSED and not t.handle_open:
                rank = 4
            elif s == TIME_WAIT or s == CLOSED:
                rank = 3
            elif s == SYN_RCVD:
                rank = 2
            else:
                rank = 1
            age = clock.ticks_diff(now, t.last_rx)
            if rank > best_rank or (rank == best_rank and age > best_age):
                best, best_rank, best_age = t, rank, age
        if best_rank < 3:
            # A new connection replaces a dead (or simply the idlest) one.
            self.st.count("tcp_replaced")
            self._abort(best, "replaced", True)
        return best

    def _accept_syn(self, b, ip_off, l4_off, seq, wnd, opt_mss):
        t = self._slot_for_syn()
        t.gen += 1
        t.ev.set()  # wake any handle of the previous user of this slot
        t.ev = asyncio.Event()
        t.handle_open = False
        t.error = None
        t._clear()
        t.lport = (b[l4_off + 2] << 8) | b[l4_off + 3]
        t.rport = (b[l4_off] << 8) | b[l4_off + 1]
        t.rip[0:16] = b[ip_off + 8:ip_off + 24]
        t.irs = seq
        t.rcv_nxt = (seq + 1) & _M32
        t.iss = (random.getrandbits(16) << 16) | random.getrandbits(16)
        t.snd_una = t.iss
        t.snd_nxt = (t.iss + 1) & _M32
        t.snd_max = t.snd_nxt
        t.snd_wnd = wnd
        t.snd_wl1 = seq
        t.snd_wl2 = t.iss
        mss = opt_mss if opt_mss else DEFAULT_MSS
        t.snd_mss = mss if mss < self.mss else self.mss
        t.last_rx = clock.ticks_ms()
        self._set_state(t, SYN_RCVD)
        self.st.count("tcp_syn_in")
        self._syn_ack(t)
        self._arm_rto(t)
        # Time the handshake: a first RTT sample before any data (RFC 6298 2.2).
        t.rtt_on = True
        t.rtt_seq = t.snd_nxt
        t.rtt_t = t.last_rx

    # ---- segment input -----------------------------------------------------------
    def _find(self, b, ip_off, sport, dport):
        for t in self.tcbs:
            if (t.state != CLOSED and t.lport == dport and t.rport == sport
                    and same(b, ip_off + 8, t.rip, 16)):
                return t
        return None

    def _options(self, b, off, end):
        """MSS value (0 if absent) or -1 if the option list is malformed."""
        mss = 0
        while off < end:
            k = b[off]
            if k == 0:
                break
            if k == 1:
                off += 1
                continue
            if off + 2 > end:
                return -1
            ln = b[off + 1]
            if ln < 2 or off + ln > end:
                return -1
            if k == 2:
                if ln != 4:
                    return -1
                mss = (b[off + 2] << 8) | b[off + 3]
                if mss == 0:
                    return -1
            off += ln
        return mss

    def input(self, b, ip_off, l4_off, l4_len, dst_kind):
        st = self.st
        if dst_kind != 0:
            st.count("tcp_bad")  # TCP is unicast only
            return
        if l4_len < _HDR:
            st.count("tcp_bad")
            return
        hl = (b[l4_off + 12] >> 4) * 4
        if hl < _HDR or hl > l4_len:
            st.count("tcp_bad")
            return
        if ipv6.l4_sum(b, ip_off, l4_off, l4_len, ipv6.NH_TCP) != 0xFFFF:
            st.count("bad_csum")
            return
        sport = (b[l4_off] << 8) | b[l4_off + 1]
        dport = (b[l4_off + 2] << 8) | b[l4_off + 3]
        flags = b[l4_off + 13] & 0x3F
        if sport == 0 or dport == 0 or (flags & _SYN and flags & (_FIN | _RST)):
            st.count("tcp_bad")
            return
        opt_mss = self._options(b, l4_off + _HDR, l4_off + hl)
        if opt_mss < 0:
            st.count("tcp_bad")
            return
        seq = _get32(b, l4_off + 4)
        ack = _get32(b, l4_off + 8)
        wnd = (b[l4_off + 14] << 8) | b[l4_off + 15]
        doff = l4_off + hl
        n = l4_len - hl
        st.count("tcp_in")
        t = self._find(b, ip_off, sport, dport)
        if t is not None and t.state == TIME_WAIT and flags & _SYN and not flags & _ACK \
                and _sd(seq, t.rcv_nxt) > 0:
            # RFC 9293 3.10.7.4 / RFC 6191: a new incarnation may reuse a TIME_WAIT pair.
            self._free(t, None)
            t = None
        if t is None:
            if flags & _RST:
                return
            if flags & _SYN and not flags & _ACK and self._listener(dport) is not None:
                st.ndp.passive(b, ip_off + 8, b, 6)
                self._accept_syn(b, ip_off, l4_off, seq, wnd, opt_mss)
                return
            st.count("tcp_no_conn")
            seglen = n + (1 if flags & _SYN else 0) + (1 if flags & _FIN else 0)
            self._rst_for(b, ip_off, l4_off, seq, ack, flags, seglen)
            return
        self._segment(t, b, seq, ack, flags, wnd, opt_mss, doff, n)

    def _segment(self, t, b, seq, ack, flags, wnd, opt_mss, doff, n):
        st = self.st
        now = clock.ticks_ms()
        if t.state == SYN_RCVD:
            if flags & _RST:
                if seq == t.rcv_nxt:
                    self._free(t, "reset")
                return
            if flags & _SYN:
                if seq == t.irs:
                    self._syn_ack(t)  # our SYN-ACK was lost
                return
            if not flags & _ACK:
                return
            if ack != t.snd_nxt:
                st.count("rst_out")
                self._emit(t.rip, 0, t.lport, t.rport, ack, 0, _RST, 0, 0, None, 0, 0)
                return
        # Acceptability (RFC 9293 3.10.7.4, first check).
        rwnd = t.rx_free()
        d = _sd(seq, t.rcv_nxt)
        seglen = n + (1 if flags & _FIN else 0) + (1 if flags & _SYN else 0)
        if seglen == 0:
            ok = d == 0 if rwnd == 0 else 0 <= d < rwnd
        elif rwnd == 0:
            ok = False
        else:
            ok = (0 <= d < rwnd) or (0 <= d + seglen - 1 < rwnd) or (d < 0 < d + seglen)
        if not ok:
            if not flags & _RST:
                st.count("tcp_out_of_window")
                self._ack_now(t)
            return
        t.last_rx = now
        st.ndp.confirm(t.rip, 0)
        if flags & _RST:
            if d == 0:
                self._free(t, "reset")
            else:
                st.count("tcp_challenge_ack")  # RFC 5961 3.2
                self._ack_now(t)
            return
        if flags & _SYN:
            st.count("tcp_challenge_ack")  # RFC 5961 4.2
            self._ack_now(t)
            return
        if not flags & _ACK:
            return
        # ACK processing.
        if t.state == SYN_RCVD:
            if t.rtt_on and t.retries == 0:
                self._rtt_sample(t, clock.ticks_diff(now, t.rtt_t))
            t.rtt_on = False
            t.snd_una = ack
            t.snd_wnd = wnd
            t.snd_wl1 = seq
            t.snd_wl2 = ack
            t.rto_on = False
            t.retries = 0
            self._set_state(t, ESTABLISHED)
            lst = self._listener(t.lport)
            if lst is not None:
                lst.ev.set()
        da = _sd(ack, t.snd_una)
        if _sd(ack, t.snd_max) > 0:
            st.count("tcp_ack_unsent")
            self._ack_now(t)
            return
        if da > 0:
            self._acked(t, ack, da, now)
        elif da == 0 and n == 0 and not flags & _FIN and wnd == t.snd_wnd and _sd(t.snd_max, t.snd_una) > 0:
            t.dupacks += 1
            st.count("tcp_dupack_in")
            if t.dupacks == 3:
                self._fast_retransmit(t)
        if _sd(t.snd_wl1, seq) < 0 or (t.snd_wl1 == seq and _sd(t.snd_wl2, ack) <= 0):
            opened = t.snd_wnd == 0 and wnd > 0
            t.snd_wnd = wnd
            t.snd_wl1 = seq
            t.snd_wl2 = ack
            if opened:
                t.persist_on = False
                t.ev.set()
        # Our FIN acknowledged?
        if t.fin_sent and t.fin_acked:
            s = t.state
            if s == FIN_WAIT_1:
                self._set_state(t, FIN_WAIT_2)
            elif s == CLOSING:
                self._set_state(t, TIME_WAIT)
            elif s == LAST_ACK:
                self._free(t, None)
                return
        # Data and FIN.
        s = t.state
        if s == ESTABLISHED or s == FIN_WAIT_1 or s == FIN_WAIT_2:
            if n:
                self._data(t, b, seq, doff, n, rwnd)
            if flags & _FIN:
                fs = (seq + n) & _M32
                if _sd(fs, t.rcv_nxt) >= 0:
                    t.rfin = True
                    t.rfin_seq = fs
            if t.rfin and t.rfin_seq == t.rcv_nxt:
                self._fin_in(t)
        elif flags & _FIN and s != CLOSED:
            # A retransmitted FIN in CLOSE_WAIT/CLOSING/LAST_ACK/TIME_WAIT: ack it again.
            self._ack_now(t)
            if s == TIME_WAIT:
                t.state_at = now
        self._output(t)
