"""TCP output, state changes and timers (base class of ``firmware.net.tcp.Tcp``)."""
from micropython import const
from lib import clock, log
from firmware.net import ipv6
from firmware.net.tcb import (CLOSED, SYN_RCVD, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT,
                              CLOSING, LAST_ACK, TIME_WAIT, sd as _sd, put32 as _put32)

_TAG = "tcp"
_FIN = const(0x01)
_SYN = const(0x02)
_RST = const(0x04)
_PSH = const(0x08)
_ACK = const(0x10)
_M32 = const(0xFFFFFFFF)
_HDR = const(20)
_HLIM = const(64)
_RTO_MAX = const(8000)
_MAX_RETRIES = const(7)
_SYN_RETRIES = const(4)
_PERSIST_MAX = const(4000)
_TIME_WAIT_MS = const(2000)
_FIN_WAIT_2_MS = const(10000)


class TcpOut:
    """Segment output, state changes and the timers of ``Tcp`` (split for the MicroPython compiler)."""

    # ---- segment output ----------------------------------------------------------
    def _emit(self, rip, rip_off, lport, rport, seq, ack, flags, wnd, mss, src, soff, n):
        st = self.st
        tb = st.tx
        o = st.L4
        tb[o] = lport >> 8
        tb[o + 1] = lport & 0xFF
        tb[o + 2] = rport >> 8
        tb[o + 3] = rport & 0xFF
        _put32(tb, o + 4, seq)
        _put32(tb, o + 8, ack if flags & _ACK else 0)
        hl = _HDR + (4 if mss else 0)
        tb[o + 12] = (hl // 4) << 4
        tb[o + 13] = flags
        if wnd > 0xFFFF:
            wnd = 0xFFFF
        tb[o + 14] = wnd >> 8
        tb[o + 15] = wnd & 0xFF
        tb[o + 16] = 0
        tb[o + 17] = 0
        tb[o + 18] = 0
        tb[o + 19] = 0
        if mss:
            tb[o + 20] = 2
            tb[o + 21] = 4
            tb[o + 22] = mss >> 8
            tb[o + 23] = mss & 0xFF
        if n:
            d = o + hl
            size = len(src)
            first = size - soff
            if first >= n:
                st.txmv[d:d + n] = src[soff:soff + n]
            else:
                st.txmv[d:d + first] = src[soff:size]
                st.txmv[d + first:d + n] = src[0:n - first]
        st.count("tcp_out")
        return st.send_ip(rip, rip_off, ipv6.NH_TCP, hl + n, _HLIM, 16)

    def _seg(self, t, seq, flags, off=0, n=0, mss=0):
        """Send a segment of connection t; data from TX ring offset ``off`` (relative to tx_head)."""
        wnd = t.rx_free()
        if flags & _ACK:
            t.delack_on = False
            t.rcv_adv = (t.rcv_nxt + wnd) & _M32
        soff = 0
        if n:
            soff = (t.tx_head + off) % len(t.txbuf)
        return self._emit(t.rip, 0, t.lport, t.rport, seq, t.rcv_nxt, flags, wnd, mss, t.txmv, soff, n)

    def _ack_now(self, t):
        self._seg(t, t.snd_nxt, _ACK)

    def _syn_ack(self, t):
        self._seg(t, t.iss, _SYN | _ACK, 0, 0, self.mss)

    def _rst_for(self, b, ip_off, l4_off, seq, ack, flags, seglen):
        """RFC 9293 3.10.7.1: reset for a segment that belongs to no connection."""
        lport = (b[l4_off + 2] << 8) | b[l4_off + 3]
        rport = (b[l4_off] << 8) | b[l4_off + 1]
        self.st.count("rst_out")
        if flags & _ACK:
            self._emit(b, ip_off + 8, lport, rport, ack, 0, _RST, 0, 0, None, 0, 0)
        else:
            self._emit(b, ip_off + 8, lport, rport, 0, (seq + seglen) & _M32, _RST | _ACK, 0, 0, None, 0, 0)

    def _arm_rto(self, t):
        t.rto_on = True
        t.rto_at = clock.ticks_add(clock.ticks_ms(), t.rto_ms)

    def _output(self, t):
        """Send what the windows allow: new data, then our FIN."""
        s = t.state
        if s != ESTABLISHED and s != CLOSE_WAIT and s != FIN_WAIT_1 and s != CLOSING and s != LAST_ACK:
            return
        while True:
            inflight = _sd(t.snd_nxt, t.snd_una)
            unsent = t.tx_count - inflight
            if t.fin_sent:
                unsent = 0
            if unsent > 0:
                wnd = t.snd_wnd if t.snd_wnd < t.cwnd else t.cwnd
                room = wnd - inflight
                if room <= 0:
                    if t.snd_wnd == 0 and inflight == 0 and not t.persist_on:
                        t.persist_on = True
                        t.persist_ms = t.rto_ms
                        t.persist_at = clock.ticks_add(clock.ticks_ms(), t.persist_ms)
                    return
                n = unsent
                if n > room:
                    n = room
                if n > t.snd_mss:
                    n = t.snd_mss
                flags = _ACK
                if n == unsent:
                    flags |= _PSH
                    if t.fin_queued:
                        flags |= _FIN
                self._seg(t, t.snd_nxt, flags, inflight, n)
                if not t.rtt_on and _sd(t.snd_nxt, t.snd_max) >= 0:
                    t.rtt_on = True
                    t.rtt_seq = (t.snd_nxt + n) & _M32
                    t.rtt_t = clock.ticks_ms()
                t.snd_nxt = (t.snd_nxt + n) & _M32
                if flags & _FIN:
                    t.fin_sent = True
                    t.snd_nxt = (t.snd_nxt + 1) & _M32
                if _sd(t.snd_nxt, t.snd_max) > 0:
                    t.snd_max = t.snd_nxt
                if not t.rto_on:
                    self._arm_rto(t)
                continue
            if t.fin_queued and not t.fin_sent:
                self._seg(t, t.snd_nxt, _FIN | _ACK)
                t.fin_sent = True
                t.snd_nxt = (t.snd_nxt + 1) & _M32
                if _sd(t.snd_nxt, t.snd_max) > 0:
                    t.snd_max = t.snd_nxt
                if not t.rto_on:
                    self._arm_rto(t)
            return

    def _window_update(self, t):
        """After the application read: tell the peer when the window opened enough (RFC 9293 3.8.6.2.2)."""
        if t.state < ESTABLISHED or t.state == CLOSED:
            return
        edge = (t.rcv_nxt + t.rx_free()) & _M32
        step = len(t.rxbuf) // 2
        if step > 2 * t.snd_mss:
            step = 2 * t.snd_mss
        if _sd(edge, t.rcv_adv) >= step:
            self._ack_now(t)

    # ---- state changes -----------------------------------------------------------
    def _set_state(self, t, s):
        t.state = s
        t.state_at = clock.ticks_ms()
        t.ev.set()

    def _free(self, t, err):
        if t.state != CLOSED:
            t.state = CLOSED
            t.state_at = clock.ticks_ms()
        t.error = err
        t.rto_on = t.persist_on = t.delack_on = False
        if not t.accepted:
            t.handle_open = False
        t.ev.set()

    def _abort(self, t, err, send_rst):
        if send_rst and t.state != CLOSED and t.state != SYN_RCVD:
            self.st.count("rst_out")
            self._seg(t, t.snd_nxt, _RST | _ACK)
        elif send_rst and t.state == SYN_RCVD:
            self._seg(t, t.snd_nxt, _RST)
        log.info(_TAG, "connection from port %d ended: %s", t.rport, err)
        self._free(t, err)

    def _close(self, t):
        if t.state == ESTABLISHED or t.state == SYN_RCVD:
            t.fin_queued = True
            self._set_state(t, FIN_WAIT_1)
        elif t.state == CLOSE_WAIT:
            t.fin_queued = True
            self._set_state(t, LAST_ACK)
        self._output(t)

    # ---- timers --------------------------------------------------------------------
    def poll(self, now):
        for t in self.tcbs:
            s = t.state
            if s == CLOSED:
                continue
            if s == TIME_WAIT:
                if clock.ticks_diff(now, t.state_at) >= _TIME_WAIT_MS:
                    self._free(t, None)
                continue
            if s == FIN_WAIT_2 and clock.ticks_diff(now, t.state_at) >= _FIN_WAIT_2_MS:
                self._abort(t, "fin-wait-2 timeout", True)
                continue
            if self.idle_ms and clock.ticks_diff(now, t.last_rx) >= self.idle_ms:
                self.st.count("tcp_idle_abort")
                self._abort(t, "idle", True)
                continue
            if t.rto_on and clock.ticks_diff(now, t.rto_at) >= 0:
                self._timeout(t)
                if t.state == CLOSED:
                    continue
            if t.persist_on and clock.ticks_diff(now, t.persist_at) >= 0:
                # Zero-window probe: an old sequence number elicits an ACK with the window.
                self.st.count("tcp_window_probe")
                self._seg(t, (t.snd_una - 1) & _M32, _ACK)
                t.persist_ms *= 2
                if t.persist_ms > _PERSIST_MAX:
                    t.persist_ms = _PERSIST_MAX
                t.persist_at = clock.ticks_add(now, t.persist_ms)
            if t.delack_on and clock.ticks_diff(now, t.delack_at) >= 0:
                self._ack_now(t)

    def _timeout(self, t):
        st = self.st
        t.retries += 1
        limit = _SYN_RETRIES if t.state == SYN_RCVD else _MAX_RETRIES
        if t.retries > limit:
            st.count("tcp_timeout_abort")
            self._abort(t, "timeout", True)
            return
        st.count("tcp_retransmit")
        t.rto_ms *= 2
        if t.rto_ms > _RTO_MAX:
            t.rto_ms = _RTO_MAX
        t.rtt_on = False
        if t.state == SYN_RCVD:
            self._syn_ack(t)
        else:
            # Go back to the first unacknowledged byte (FIN included), one segment at a time.
            t.snd_nxt = t.snd_una
            if not t.fin_acked:
                t.fin_sent = False
            t.cwnd = t.snd_mss
            t.rto_on = False
            self._output(t)
        self._arm_rto(t)
