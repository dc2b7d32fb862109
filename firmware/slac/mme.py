"""HomePlug Green PHY management messages (MMEs) that SLAC needs: decode and encode.

Frame: Ethernet header (optionally one 802.1Q tag), ethertype 0x88E1, MMV 0x01, MMTYPE
(little-endian: base | 0 REQ, 1 CNF, 2 IND, 3 RSP), 2 bytes of fragmentation info (FMI),
then the payload. Layouts are those of the HomePlug GreenPHY specification as used by
ISO 15118-3 Annex A (application type 0 = PEV-EVSE matching, security type 0 = none).

Decoding fills a reusable ``Mme`` in place: numbers become attributes, byte fields are
kept as *offsets* into the frame (``m.o_run_id`` ...) so nothing is copied or allocated;
``same(buf, off, ref)`` compares such a field with a reference. Malformed input raises
``MmeError`` (a ValueError) with a short reason, never anything else.

Encoders write a whole Ethernet frame into a caller's buffer and return its length
(zero-padded to the 60-byte Ethernet minimum).
"""
from micropython import const
import struct

ETH_P_HPAV = const(0x88E1)
_ETH_P_VLAN = const(0x8100)
MMV_1 = const(0x01)
HDR_LEN = const(19)  # Ethernet 14 + MMV 1 + MMTYPE 2 + FMI 2
MIN_FRAME = const(60)
MAX_MME = const(160)  # room for the longest SLAC MME (CM_ATTEN_CHAR.IND: 129 bytes)

CM_SET_KEY_REQ = const(0x6008)
CM_SET_KEY_CNF = const(0x6009)
CM_AMP_MAP_REQ = const(0x601C)
CM_SLAC_PARM_REQ = const(0x6064)
CM_SLAC_PARM_CNF = const(0x6065)
CM_START_ATTEN_CHAR_IND = const(0x606A)
CM_ATTEN_CHAR_IND = const(0x606E)
CM_ATTEN_CHAR_RSP = const(0x606F)
CM_MNBC_SOUND_IND = const(0x6076)
CM_VALIDATE_REQ = const(0x6078)
CM_VALIDATE_CNF = const(0x6079)
CM_SLAC_MATCH_REQ = const(0x607C)
CM_SLAC_MATCH_CNF = const(0x607D)
CM_ATTEN_PROFILE_IND = const(0x6086)

NAMES = {
    CM_SET_KEY_REQ: "CM_SET_KEY.REQ",
    CM_SET_KEY_CNF: "CM_SET_KEY.CNF",
    CM_SLAC_PARM_REQ: "CM_SLAC_PARAM.REQ",
    CM_SLAC_PARM_CNF: "CM_SLAC_PARAM.CNF",
    CM_START_ATTEN_CHAR_IND: "CM_START_ATTEN_CHAR.IND",
    CM_ATTEN_CHAR_IND: "CM_ATTEN_CHAR.IND",
    CM_ATTEN_CHAR_RSP: "CM_ATTEN_CHAR.RSP",
    CM_MNBC_SOUND_IND: "CM_MNBC_SOUND.IND",
    CM_VALIDATE_REQ: "CM_VALIDATE.REQ",
    CM_VALIDATE_CNF: "CM_VALIDATE.CNF",
    CM_SLAC_MATCH_REQ: "CM_SLAC_MATCH.REQ",
    CM_SLAC_MATCH_CNF: "CM_SLAC_MATCH.CNF",
    CM_ATTEN_PROFILE_IND: "CM_ATTEN_PROFILE.IND",
}

# Field sizes
MAC_LEN = const(6)
RUN_ID_LEN = const(8)
ID_LEN = const(17)  # PEV ID, EVSE ID, SOURCE_ID, RESP_ID, SenderID
NID_LEN = const(7)
NMK_LEN = const(16)
MAX_GROUPS = const(58)  # attenuation groups of the Green PHY carrier set

# Payload lengths (fixed parts)
_L_SET_KEY_REQ = const(38)
_L_SET_KEY_CNF = const(14)
_L_PARM_REQ = const(10)
_L_PARM_CNF = const(25)
_L_START_ATTEN = const(19)
_L_MNBC = const(52)
_L_MNBC_MIN = const(28)  # through the run ID
_L_ATTEN_PROFILE = const(8)  # + groups
_L_ATTEN_CHAR_IND = const(52)  # + groups
_L_ATTEN_CHAR_RSP = const(51)
_L_VALIDATE = const(3)
_L_MATCH_REQ = const(66)
_L_MATCH_CNF = const(90)
MVF_MATCH_REQ = const(0x3E)  # MVFLength: bytes after the MVFLength field
MVF_MATCH_CNF = const(0x56)

# Values
APP_PEV_EVSE = const(0)
SEC_NONE = const(0)
SEC_PKI = const(1)
RESP_TYPE_OTHER_GP_STA = const(1)  # results go to the forwarding station (the EV)
KEY_TYPE_NMK = const(1)
PID_HLE = const(4)  # protocol ID: HLE protocol (SLAC's key set-up)
VAL_NOT_READY = const(0)
VAL_READY = const(1)
VAL_SUCCESS = const(2)
VAL_FAILURE = const(3)
VAL_NOT_REQUIRED = const(4)

BROADCAST = b"\xff\xff\xff\xff\xff\xff"
# QCA modems answer host management frames sent to this "local" address
LOCAL_MODEM = b"\x00\xb0\x52\x00\x00\x01"


class MmeError(ValueError):
    """A frame that is not a well-formed SLAC MME (reason in the message)."""


class Mme:
    """One decoded message; reused for every frame (see the module doc)."""

    def __init__(self):
        self.buf = None
        self.n = 0
        self.mmtype = 0
        self.off = 0  # payload offset (19, or 23 behind a VLAN tag)
        self.end = 0  # end of the message proper (what follows is padding)
        self.o_dst = 0
        self.o_src = 6
        self.app_type = 0
        self.sec_type = 0
        self.o_run_id = 0
        self.num_sounds = 0
        self.time_out = 0
        self.resp_type = 0
        self.o_fwd_sta = 0
        self.o_sound_target = 0
        self.cnt = 0
        self.o_sender_id = 0
        self.o_rnd = 0
        self.o_pev_mac = 0  # ATTEN_PROFILE, SLAC_MATCH
        self.num_groups = 0
        self.o_aag = 0
        self.o_source_addr = 0  # ATTEN_CHAR
        self.o_source_id = 0
        self.o_resp_id = 0
        self.result = 0
        self.short = False  # ATTEN_CHAR.IND without its profile, MNBC_SOUND.IND cut short
        self.mvf_len = 0
        self.o_pev_id = 0
        self.o_evse_id = 0
        self.o_evse_mac = 0
        self.o_nid = 0
        self.o_nmk = 0
        self.key_type = 0
        self.o_my_nonce = 0
        self.o_your_nonce = 0
        self.pid = 0
        self.prn = 0
        self.pmn = 0
        self.cco_cap = 0
        self.new_eks = 0
        self.signal_type = 0
        self.timer = 0
        self.toggle_num = 0
        self.cipher_suites = 0  # count (security type 1 only)

    def field(self, off, n):
        """Copy of a byte field (allocates: for logs and tests, not per frame)."""
        return bytes(self.buf[off : off + n])


def same(buf, off, ref):
    """buf[off:off+len(ref)] == ref without slicing."""
    i = 0
    n = len(ref)
    while i < n:
        if buf[off + i] != ref[i]:
            return False
        i += 1
    return True


def mmtype_of(buf, n):
    """The MMTYPE of a HomePlug MME frame (MMV 1), or -1 for anything else. Never raises."""
    if n < HDR_LEN:
        return -1
    h = 12
    et = (buf[12] << 8) | buf[13]
    if et == _ETH_P_VLAN:
        if n < HDR_LEN + 4:
            return -1
        h = 16
        et = (buf[16] << 8) | buf[17]
    if et != ETH_P_HPAV or buf[h + 2] != MMV_1:
        return -1
    return buf[h + 3] | (buf[h + 4] << 8)



def _set_key_common(m, buf, p):
    """The fields CM_SET_KEY.REQ and .CNF share after their first byte."""
    m.o_my_nonce = p + 1
    m.o_your_nonce = p + 5
    m.pid = buf[p + 9]
    m.prn = buf[p + 10] | (buf[p + 11] << 8)
    m.pmn = buf[p + 12]
    m.cco_cap = buf[p + 13]

def decode(buf, n, m):
    """Decode the SLAC MME in ``buf[0:n]`` into ``m``; returns its MMTYPE.
    Raises MmeError for a frame that is not one, or a malformed one."""
    if n < HDR_LEN:
        raise MmeError("frame too short")
    if n > len(buf):
        raise MmeError("length beyond buffer")
    h = 12
    et = (buf[12] << 8) | buf[13]
    if et == _ETH_P_VLAN:
        h = 16
        if n < HDR_LEN + 4:
            raise MmeError("frame too short")
        et = (buf[16] << 8) | buf[17]
    if et != ETH_P_HPAV:
        raise MmeError("not HomePlug AV")
    if buf[h + 2] != MMV_1:
        raise MmeError("MMV %d" % buf[h + 2])
    mt = buf[h + 3] | (buf[h + 4] << 8)
    if buf[h + 5] & 0xF0:
        raise MmeError("fragmented MME")
    p = h + 7
    m.buf = buf
    m.n = n
    m.mmtype = mt
    m.off = p
    m.o_dst = 0
    m.o_src = 6
    m.short = False
    ln = n - p
    if mt == CM_SLAC_PARM_REQ:
        m.end = p + _need(ln, _L_PARM_REQ)
        m.app_type = buf[p]
        m.sec_type = buf[p + 1]
        m.o_run_id = p + 2
        m.cipher_suites = 0
        if m.sec_type == SEC_PKI:
            m.end = p + _need(ln, _L_PARM_REQ + 1)
            m.cipher_suites = buf[p + 10]
            m.end = p + _need(ln, _L_PARM_REQ + 1 + 2 * m.cipher_suites)
    elif mt == CM_SLAC_PARM_CNF:
        m.end = p + _need(ln, _L_PARM_CNF)
        m.o_sound_target = p
        m.num_sounds = buf[p + 6]
        m.time_out = buf[p + 7]
        m.resp_type = buf[p + 8]
        m.o_fwd_sta = p + 9
        m.app_type = buf[p + 15]
        m.sec_type = buf[p + 16]
        m.o_run_id = p + 17
    elif mt == CM_START_ATTEN_CHAR_IND:
        m.end = p + _need(ln, _L_START_ATTEN)
        m.app_type = buf[p]
        m.sec_type = buf[p + 1]
        m.num_sounds = buf[p + 2]
        m.time_out = buf[p + 3]
        m.resp_type = buf[p + 4]
        m.o_fwd_sta = p + 5
        m.o_run_id = p + 11
    elif mt == CM_MNBC_SOUND_IND:
        # up to the run ID is what matters; QCA's pev cuts the random part short (45 bytes)
        m.end = p + _need(ln, _L_MNBC_MIN)
        m.app_type = buf[p]
        m.sec_type = buf[p + 1]
        m.o_sender_id = p + 2
        m.cnt = buf[p + 19]
        m.o_run_id = p + 20
        m.o_rnd = p + 36
        m.short = ln < _L_MNBC
        if not m.short:
            m.end = p + _L_MNBC
    elif mt == CM_ATTEN_PROFILE_IND:
        m.end = p + _need(ln, _L_ATTEN_PROFILE)
        m.o_pev_mac = p
        g = buf[p + 6]
        if g > MAX_GROUPS:
            raise MmeError("%d groups" % g)
        m.end = p + _need(ln, _L_ATTEN_PROFILE + g)
        m.num_groups = g
        m.o_aag = p + 8
    elif mt == CM_ATTEN_CHAR_IND:
        m.end = p + _need(ln, _L_ATTEN_CHAR_IND - 1)
        _atten_char_common(buf, p, m)
        m.num_sounds = buf[p + 50]
        m.short = ln == _L_ATTEN_CHAR_IND - 1
        if m.short:
            # some chargers end the frame here when they heard nothing (no padding byte)
            m.num_groups = 0
            m.o_aag = p + 51
        else:
            g = buf[p + 51]
            if g > MAX_GROUPS:
                raise MmeError("%d groups" % g)
            m.end = p + _need(ln, _L_ATTEN_CHAR_IND + g)
            m.num_groups = g
            m.o_aag = p + 52
    elif mt == CM_ATTEN_CHAR_RSP:
        m.end = p + _need(ln, _L_ATTEN_CHAR_RSP)
        _atten_char_common(buf, p, m)
        m.result = buf[p + 50]
    elif mt == CM_SLAC_MATCH_REQ or mt == CM_SLAC_MATCH_CNF:
        m.end = p + _need(ln, _L_MATCH_REQ if mt == CM_SLAC_MATCH_REQ else _L_MATCH_CNF)
        m.app_type = buf[p]
        m.sec_type = buf[p + 1]
        m.mvf_len = buf[p + 2] | (buf[p + 3] << 8)
        m.o_pev_id = p + 4
        m.o_pev_mac = p + 21
        m.o_evse_id = p + 27
        m.o_evse_mac = p + 44
        m.o_run_id = p + 50
        if mt == CM_SLAC_MATCH_CNF:
            m.o_nid = p + 66
            m.o_nmk = p + 74
    elif mt == CM_SET_KEY_REQ:
        m.end = p + _need(ln, _L_SET_KEY_REQ)
        m.key_type = buf[p]
        _set_key_common(m, buf, p)
        m.o_nid = p + 14
        m.new_eks = buf[p + 21]
        m.o_nmk = p + 22
    elif mt == CM_SET_KEY_CNF:
        m.end = p + _need(ln, _L_SET_KEY_CNF)
        m.result = buf[p]
        _set_key_common(m, buf, p)
    elif mt == CM_VALIDATE_REQ or mt == CM_VALIDATE_CNF:
        m.end = p + _need(ln, _L_VALIDATE)
        m.signal_type = buf[p]
        if mt == CM_VALIDATE_REQ:
            m.timer = buf[p + 1]
        else:
            m.toggle_num = buf[p + 1]
        m.result = buf[p + 2]
    else:
        raise MmeError("MMTYPE 0x%04x is not SLAC" % mt)
    return mt


def _need(have, want):
    if have < want:
        raise MmeError("truncated: %d of %d payload bytes" % (have, want))
    return want


def _atten_char_common(buf, p, m):
    m.app_type = buf[p]
    m.sec_type = buf[p + 1]
    m.o_source_addr = p + 2
    m.o_run_id = p + 8
    m.o_source_id = p + 16
    m.o_resp_id = p + 33


# ---- encoding --------------------------------------------------------------------------


def _header(buf, dst, src, mmtype):
    buf[0:6] = dst
    buf[6:12] = src
    buf[12] = 0x88
    buf[13] = 0xE1
    buf[14] = MMV_1
    buf[15] = mmtype & 0xFF
    buf[16] = mmtype >> 8
    buf[17] = 0
    buf[18] = 0
    return HDR_LEN


def _put(buf, off, data, n):
    # a field of n bytes; None (or short data) leaves zeros
    i = 0
    k = 0 if data is None else len(data)
    while i < n:
        buf[off + i] = data[i] if i < k else 0
        i += 1
    return off + n


def _end(buf, n):
    while n < MIN_FRAME:
        buf[n] = 0
        n += 1
    return n


def set_key_req(buf, dst, src, nid, nmk, my_nonce=None, your_nonce=None, pid=PID_HLE,
                prn=0, pmn=0, cco_cap=0, key_type=KEY_TYPE_NMK, new_eks=1):
    p = _header(buf, dst, src, CM_SET_KEY_REQ)
    buf[p] = key_type
    _put(buf, p + 1, my_nonce, 4)
    _put(buf, p + 5, your_nonce, 4)
    buf[p + 9] = pid
    struct.pack_into("<H", buf, p + 10, prn)
    buf[p + 12] = pmn
    buf[p + 13] = cco_cap
    _put(buf, p + 14, nid, NID_LEN)
    buf[p + 21] = new_eks
    _put(buf, p + 22, nmk, NMK_LEN)
    return _end(buf, p + _L_SET_KEY_REQ)


def set_key_cnf(buf, dst, src, result, my_nonce=None, your_nonce=None, pid=PID_HLE, prn=0,
                pmn=0, cco_cap=0):
    p = _header(buf, dst, src, CM_SET_KEY_CNF)
    buf[p] = result
    _put(buf, p + 1, my_nonce, 4)
    _put(buf, p + 5, your_nonce, 4)
    buf[p + 9] = pid
    struct.pack_into("<H", buf, p + 10, prn)
    buf[p + 12] = pmn
    buf[p + 13] = cco_cap
    return _end(buf, p + _L_SET_KEY_CNF)


def slac_parm_req(buf, dst, src, run_id, app_type=APP_PEV_EVSE, sec_type=SEC_NONE):
    p = _header(buf, dst, src, CM_SLAC_PARM_REQ)
    buf[p] = app_type
    buf[p + 1] = sec_type
    _put(buf, p + 2, run_id, RUN_ID_LEN)
    return _end(buf, p + _L_PARM_REQ)


def slac_parm_cnf(buf, dst, src, run_id, fwd_sta, num_sounds, time_out,
                  resp_type=RESP_TYPE_OTHER_GP_STA, sound_target=BROADCAST,
                  app_type=APP_PEV_EVSE, sec_type=SEC_NONE):
    p = _header(buf, dst, src, CM_SLAC_PARM_CNF)
    _put(buf, p, sound_target, MAC_LEN)
    buf[p + 6] = num_sounds
    buf[p + 7] = time_out
    buf[p + 8] = resp_type
    _put(buf, p + 9, fwd_sta, MAC_LEN)
    buf[p + 15] = app_type
    buf[p + 16] = sec_type
    _put(buf, p + 17, run_id, RUN_ID_LEN)
    return _end(buf, p + _L_PARM_CNF)


def start_atten_char_ind(buf, dst, src, run_id, fwd_sta, num_sounds, time_out,
                         resp_type=RESP_TYPE_OTHER_GP_STA, app_type=APP_PEV_EVSE,
                         sec_type=SEC_NONE):
    p = _header(buf, dst, src, CM_START_ATTEN_CHAR_IND)
    buf[p] = app_type
    buf[p + 1] = sec_type
    buf[p + 2] = num_sounds
    buf[p + 3] = time_out
    buf[p + 4] = resp_type
    _put(buf, p + 5, fwd_sta, MAC_LEN)
    _put(buf, p + 11, run_id, RUN_ID_LEN)
    return _end(buf, p + _L_START_ATTEN)


def mnbc_sound_ind(buf, dst, src, run_id, cnt, sender_id=None, rnd=None,
                   app_type=APP_PEV_EVSE, sec_type=SEC_NONE):
    p = _header(buf, dst, src, CM_MNBC_SOUND_IND)
    buf[p] = app_type
    buf[p + 1] = sec_type
    _put(buf, p + 2, sender_id, ID_LEN)
    buf[p + 19] = cnt
    _put(buf, p + 20, run_id, RUN_ID_LEN)
    _put(buf, p + 28, None, 8)
    _put(buf, p + 36, rnd, 16)
    return _end(buf, p + _L_MNBC)


def atten_profile_ind(buf, dst, src, pev_mac, aag, num_groups=-1):
    """``aag``: the group attenuations in dB (num_groups of them, default len(aag))."""
    g = len(aag) if num_groups < 0 else num_groups
    if g > MAX_GROUPS:
        raise MmeError("%d groups" % g)
    p = _header(buf, dst, src, CM_ATTEN_PROFILE_IND)
    _put(buf, p, pev_mac, MAC_LEN)
    buf[p + 6] = g
    buf[p + 7] = 0
    _put(buf, p + 8, aag, g)
    return _end(buf, p + _L_ATTEN_PROFILE + g)


def atten_char_ind(buf, dst, src, source_addr, run_id, num_sounds, aag, num_groups=-1,
                   source_id=None, resp_id=None, app_type=APP_PEV_EVSE, sec_type=SEC_NONE):
    g = len(aag) if num_groups < 0 else num_groups
    if g > MAX_GROUPS:
        raise MmeError("%d groups" % g)
    p = _header(buf, dst, src, CM_ATTEN_CHAR_IND)
    _atten_char_put(buf, p, app_type, sec_type, source_addr, run_id, source_id, resp_id)
    buf[p + 50] = num_sounds
    buf[p + 51] = g
    _put(buf, p + 52, aag, g)
    return _end(buf, p + _L_ATTEN_CHAR_IND + g)


def atten_char_rsp(buf, dst, src, source_addr, run_id, result=0, source_id=None,
                   resp_id=None, app_type=APP_PEV_EVSE, sec_type=SEC_NONE):
    p = _header(buf, dst, src, CM_ATTEN_CHAR_RSP)
    _atten_char_put(buf, p, app_type, sec_type, source_addr, run_id, source_id, resp_id)
    buf[p + 50] = result
    return _end(buf, p + _L_ATTEN_CHAR_RSP)


def _atten_char_put(buf, p, app_type, sec_type, source_addr, run_id, source_id, resp_id):
    buf[p] = app_type
    buf[p + 1] = sec_type
    _put(buf, p + 2, source_addr, MAC_LEN)
    _put(buf, p + 8, run_id, RUN_ID_LEN)
    _put(buf, p + 16, source_id, ID_LEN)
    _put(buf, p + 33, resp_id, ID_LEN)


def validate_req(buf, dst, src, timer, result=VAL_READY, signal_type=0):
    p = _header(buf, dst, src, CM_VALIDATE_REQ)
    buf[p] = signal_type
    buf[p + 1] = timer
    buf[p + 2] = result
    return _end(buf, p + _L_VALIDATE)


def validate_cnf(buf, dst, src, toggle_num, result, signal_type=0):
    p = _header(buf, dst, src, CM_VALIDATE_CNF)
    buf[p] = signal_type
    buf[p + 1] = toggle_num
    buf[p + 2] = result
    return _end(buf, p + _L_VALIDATE)


def slac_match_req(buf, dst, src, pev_mac, evse_mac, run_id, pev_id=None, evse_id=None,
                   app_type=APP_PEV_EVSE, sec_type=SEC_NONE):
    p = _header(buf, dst, src, CM_SLAC_MATCH_REQ)
    _match_put(buf, p, MVF_MATCH_REQ, pev_id, pev_mac, evse_id, evse_mac, run_id,
               app_type, sec_type)
    return _end(buf, p + _L_MATCH_REQ)


def slac_match_cnf(buf, dst, src, pev_mac, evse_mac, run_id, nid, nmk, pev_id=None,
                   evse_id=None, app_type=APP_PEV_EVSE, sec_type=SEC_NONE):
    p = _header(buf, dst, src, CM_SLAC_MATCH_CNF)
    _match_put(buf, p, MVF_MATCH_CNF, pev_id, pev_mac, evse_id, evse_mac, run_id,
               app_type, sec_type)
    _put(buf, p + 66, nid, NID_LEN)
    buf[p + 73] = 0
    _put(buf, p + 74, nmk, NMK_LEN)
    return _end(buf, p + _L_MATCH_CNF)


def _match_put(buf, p, mvf, pev_id, pev_mac, evse_id, evse_mac, run_id, app_type, sec_type):
    buf[p] = app_type
    buf[p + 1] = sec_type
    buf[p + 2] = mvf & 0xFF
    buf[p + 3] = mvf >> 8
    _put(buf, p + 4, pev_id, ID_LEN)
    _put(buf, p + 21, pev_mac, MAC_LEN)
    _put(buf, p + 27, evse_id, ID_LEN)
    _put(buf, p + 44, evse_mac, MAC_LEN)
    _put(buf, p + 50, run_id, RUN_ID_LEN)
    _put(buf, p + 58, None, 8)
