"""TCP receive side: acknowledgements, RTT, reassembly, FIN (base of ``firmware.net.tcp.Tcp``)."""
from micropython import const
from lib import clock
from firmware.net.tcb import (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, TIME_WAIT,
                              IW, sd as _sd)
from firmware.net.tcp_out import TcpOut

_FIN = const(0x01)
_PSH = const(0x08)
_ACK = const(0x10)
_M32 = const(0xFFFFFFFF)
_RTO_MIN = const(200)
_RTO_MAX = const(8000)
_DELACK_MS = const(40)
_OOO_SLOTS = const(4)


class TcpRx(TcpOut):
    def _acked(self, t, ack, da, now):
        data = da
        if data > t.tx_count:
            data = t.tx_count
            t.fin_acked = t.fin_sent = True
        t.tx_head = (t.tx_head + data) % len(t.txbuf)
        t.tx_count -= data
        t.snd_una = ack
        if _sd(t.snd_nxt, ack) < 0:
            t.snd_nxt = ack
        t.dupacks = 0
        t.retries = 0
        if t.cwnd < IW:
            t.cwnd += t.snd_mss
        if t.rtt_on and _sd(ack, t.rtt_seq) >= 0:
            t.rtt_on = False
            self._rtt_sample(t, clock.ticks_diff(now, t.rtt_t))
        if _sd(t.snd_max, t.snd_una) > 0:
            self._arm_rto(t)
        else:
            t.rto_on = False
        t.ev.set()

    def _rtt_sample(self, t, r):
        if r < 1:
            r = 1
        if t.srtt == 0:
            t.srtt = r
            t.rttvar = r // 2
        else:
            dv = t.srtt - r
            if dv < 0:
                dv = -dv
            t.rttvar = (3 * t.rttvar + dv) // 4
            t.srtt = (7 * t.srtt + r) // 8
        rto = t.srtt + (4 * t.rttvar if 4 * t.rttvar > 10 else 10)
        if rto < _RTO_MIN:
            rto = _RTO_MIN
        if rto > _RTO_MAX:
            rto = _RTO_MAX
        t.rto_ms = rto

    def _fast_retransmit(self, t):
        self.st.count("tcp_fast_retransmit")
        t.rtt_on = False
        n = t.tx_count
        if n > t.snd_mss:
            n = t.snd_mss
        if n:
            fin = _FIN if t.fin_sent and n == t.tx_count else 0
            self._seg(t, t.snd_una, _ACK | _PSH | fin, 0, n)
        elif t.fin_sent:
            self._seg(t, t.snd_una, _ACK | _FIN)
        half = _sd(t.snd_max, t.snd_una) // 2
        t.cwnd = half if half > 2 * t.snd_mss else 2 * t.snd_mss
        self._arm_rto(t)

    def _data(self, t, b, seq, doff, n, rwnd):
        st = self.st
        d = _sd(seq, t.rcv_nxt)
        if d < 0:
            # Trim what we already have.
            doff -= d
            n += d
            d = 0
            if n <= 0:
                self._ack_now(t)
                return
        if d + n > rwnd:
            n = rwnd - d
            st.count("tcp_trimmed")
        if n <= 0:
            self._ack_now(t)
            return
        size = len(t.rxbuf)
        pos = (t.rx_head + t.rx_count + d) % size
        first = size - pos
        if first >= n:
            t.rxmv[pos:pos + n] = b[doff:doff + n]
        else:
            t.rxmv[pos:size] = b[doff:doff + first]
            t.rxmv[0:n - first] = b[doff + first:doff + n]
        if d == 0:
            t.rcv_nxt = (t.rcv_nxt + n) & _M32
            t.rx_count += n
            filled = self._ooo_merge(t)
            t.ev.set()
            if filled or t.ooo_n:
                self._ack_now(t)  # RFC 5681 4.2: ack at once while holes exist or get filled
            elif t.delack_on:
                self._ack_now(t)  # every second full segment
            else:
                t.delack_on = True
                t.delack_at = clock.ticks_add(clock.ticks_ms(), _DELACK_MS)
        else:
            st.count("tcp_ooo")
            self._ooo_add(t, seq, (seq + n) & _M32)
            self._ack_now(t)  # duplicate ACK for the sender's fast retransmit

    def _ooo_add(self, t, s, e):
        i = 0
        while i < t.ooo_n:
            os_ = t.ooo_s[i]
            oe = t.ooo_e[i]
            if _sd(s, oe) <= 0 and _sd(os_, e) <= 0:
                # Overlapping or adjacent: merge and retry with the union.
                if _sd(os_, s) < 0:
                    s = os_
                if _sd(oe, e) > 0:
                    e = oe
                self._ooo_del(t, i)
                i = 0
                continue
            i += 1
        if t.ooo_n >= _OOO_SLOTS:
            self.st.count("tcp_ooo_dropped")
            return
        t.ooo_s[t.ooo_n] = s
        t.ooo_e[t.ooo_n] = e
        t.ooo_n += 1

    def _ooo_del(self, t, i):
        t.ooo_n -= 1
        t.ooo_s[i] = t.ooo_s[t.ooo_n]
        t.ooo_e[i] = t.ooo_e[t.ooo_n]

    def _ooo_merge(self, t):
        filled = False
        again = True
        while again:
            again = False
            for i in range(t.ooo_n):
                if _sd(t.ooo_s[i], t.rcv_nxt) <= 0:
                    e = t.ooo_e[i]
                    if _sd(e, t.rcv_nxt) > 0:
                        t.rx_count += _sd(e, t.rcv_nxt)
                        t.rcv_nxt = e
                    self._ooo_del(t, i)
                    filled = again = True
                    break
        return filled

    def _fin_in(self, t):
        t.rfin = False
        t.rcv_nxt = (t.rcv_nxt + 1) & _M32
        t.eof = True
        s = t.state
        if s == ESTABLISHED:
            self._set_state(t, CLOSE_WAIT)
        elif s == FIN_WAIT_1:
            self._set_state(t, TIME_WAIT if t.fin_acked else CLOSING)
        elif s == FIN_WAIT_2:
            self._set_state(t, TIME_WAIT)
        self._ack_now(t)
