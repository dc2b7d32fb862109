"""SLAC management messages: every message round trip, truncated, malformed, VLAN; NID."""
from firmware.slac import keys, mme
from tests.common.support import raises

EV = b"\x02\x00\x00\x00\x00\xe1"
EVSE = b"\x02\x00\x00\x00\x00\x5c"
RUN = b"\x11\x22\x33\x44\x55\x66\x77\x88"
NMK = bytes(range(16))
NID = b"\x01\x02\x03\x04\x05\x06\x07"
AAG = bytes((i * 3) & 0xFF for i in range(58))


def _enc(fn, *a, **kw):
    b = bytearray(160)
    n = fn(b, *a, **kw)
    return bytes(b[:n])


def _dec(f):
    m = mme.Mme()
    mt = mme.decode(f, len(f), m)
    return mt, m


def _all():
    """(frame, mmtype) of one of each message."""
    return [
        (_enc(mme.set_key_req, mme.LOCAL_MODEM, EVSE, NID, NMK, my_nonce=b"abcd"), mme.CM_SET_KEY_REQ),
        (_enc(mme.set_key_cnf, EVSE, mme.LOCAL_MODEM, 1, b"wxyz", b"abcd"), mme.CM_SET_KEY_CNF),
        (_enc(mme.slac_parm_req, mme.BROADCAST, EV, RUN), mme.CM_SLAC_PARM_REQ),
        (_enc(mme.slac_parm_cnf, EV, EVSE, RUN, EV, 10, 6), mme.CM_SLAC_PARM_CNF),
        (_enc(mme.start_atten_char_ind, mme.BROADCAST, EV, RUN, EV, 10, 6), mme.CM_START_ATTEN_CHAR_IND),
        (_enc(mme.mnbc_sound_ind, mme.BROADCAST, EV, RUN, 7, rnd=b"R" * 16), mme.CM_MNBC_SOUND_IND),
        (_enc(mme.atten_profile_ind, EVSE, mme.LOCAL_MODEM, EV, AAG), mme.CM_ATTEN_PROFILE_IND),
        (_enc(mme.atten_char_ind, EV, EVSE, EV, RUN, 10, AAG), mme.CM_ATTEN_CHAR_IND),
        (_enc(mme.atten_char_rsp, EVSE, EV, EV, RUN, 0), mme.CM_ATTEN_CHAR_RSP),
        (_enc(mme.validate_req, EVSE, EV, 10, 1), mme.CM_VALIDATE_REQ),
        (_enc(mme.validate_cnf, EV, EVSE, 2, mme.VAL_SUCCESS), mme.CM_VALIDATE_CNF),
        (_enc(mme.slac_match_req, EVSE, EV, EV, EVSE, RUN), mme.CM_SLAC_MATCH_REQ),
        (_enc(mme.slac_match_cnf, EV, EVSE, EV, EVSE, RUN, NID, NMK, evse_id=b"DE*ABC*E1"), mme.CM_SLAC_MATCH_CNF),
    ]


def test_lengths_match_the_spec():
    want = {mme.CM_SET_KEY_REQ: 60, mme.CM_SET_KEY_CNF: 60, mme.CM_SLAC_PARM_REQ: 60,
            mme.CM_SLAC_PARM_CNF: 60, mme.CM_START_ATTEN_CHAR_IND: 60, mme.CM_MNBC_SOUND_IND: 71,
            mme.CM_ATTEN_PROFILE_IND: 85, mme.CM_ATTEN_CHAR_IND: 129, mme.CM_ATTEN_CHAR_RSP: 70,
            mme.CM_VALIDATE_REQ: 60, mme.CM_VALIDATE_CNF: 60, mme.CM_SLAC_MATCH_REQ: 85,
            mme.CM_SLAC_MATCH_CNF: 109}
    for f, mt in _all():
        assert len(f) == want[mt], (mme.NAMES[mt], len(f))
        assert f[12:15] == b"\x88\xe1\x01"
        assert f[15] | (f[16] << 8) == mt


def test_round_trip_fields():
    frames = dict((mt, f) for f, mt in _all())
    mt, m = _dec(frames[mme.CM_SET_KEY_REQ])
    assert (m.key_type, m.pid, m.new_eks) == (1, 4, 1)
    assert m.field(m.o_nid, 7) == NID and m.field(m.o_nmk, 16) == NMK
    assert m.field(m.o_my_nonce, 4) == b"abcd"
    mt, m = _dec(frames[mme.CM_SET_KEY_CNF])
    assert m.result == 1 and m.field(m.o_your_nonce, 4) == b"abcd"
    mt, m = _dec(frames[mme.CM_SLAC_PARM_REQ])
    assert m.field(m.o_run_id, 8) == RUN and m.app_type == 0 and m.sec_type == 0
    mt, m = _dec(frames[mme.CM_SLAC_PARM_CNF])
    assert (m.num_sounds, m.time_out, m.resp_type) == (10, 6, 1)
    assert m.field(m.o_fwd_sta, 6) == EV and m.field(m.o_sound_target, 6) == mme.BROADCAST
    assert m.field(m.o_run_id, 8) == RUN
    mt, m = _dec(frames[mme.CM_START_ATTEN_CHAR_IND])
    assert (m.num_sounds, m.time_out, m.resp_type) == (10, 6, 1) and m.field(m.o_run_id, 8) == RUN
    mt, m = _dec(frames[mme.CM_MNBC_SOUND_IND])
    assert m.cnt == 7 and m.field(m.o_run_id, 8) == RUN and m.field(m.o_rnd, 16) == b"R" * 16
    mt, m = _dec(frames[mme.CM_ATTEN_PROFILE_IND])
    assert m.field(m.o_pev_mac, 6) == EV and m.num_groups == 58 and m.field(m.o_aag, 58) == AAG
    mt, m = _dec(frames[mme.CM_ATTEN_CHAR_IND])
    assert m.num_sounds == 10 and m.num_groups == 58 and m.field(m.o_aag, 58) == AAG
    assert m.field(m.o_source_addr, 6) == EV and not m.short
    mt, m = _dec(frames[mme.CM_ATTEN_CHAR_RSP])
    assert m.result == 0 and m.field(m.o_run_id, 8) == RUN
    mt, m = _dec(frames[mme.CM_VALIDATE_REQ])
    assert (m.signal_type, m.timer, m.result) == (0, 10, 1)
    mt, m = _dec(frames[mme.CM_VALIDATE_CNF])
    assert (m.toggle_num, m.result) == (2, mme.VAL_SUCCESS)
    mt, m = _dec(frames[mme.CM_SLAC_MATCH_REQ])
    assert m.mvf_len == 0x3E and m.field(m.o_pev_mac, 6) == EV and m.field(m.o_evse_mac, 6) == EVSE
    mt, m = _dec(frames[mme.CM_SLAC_MATCH_CNF])
    assert m.mvf_len == 0x56 and m.field(m.o_nid, 7) == NID and m.field(m.o_nmk, 16) == NMK
    assert m.field(m.o_evse_id, 17) == b"DE*ABC*E1" + bytes(8)


def test_known_frame_bytes():
    # a CM_SLAC_PARM.CNF as a real charger sent it (corpus, Alpitronic 2022-11-17)
    f = bytes.fromhex("dc0ea11167089a8ab66d2df688e10165600000"
                      "ffffffffffff0a0601dc0ea11167080000dc0ea111670800000000"
                      "0000000000000000000000000000")
    mt, m = _dec(f)
    assert mt == mme.CM_SLAC_PARM_CNF and m.num_sounds == 10 and m.time_out == 6
    again = _enc(mme.slac_parm_cnf, f[0:6], f[6:12], m.field(m.o_run_id, 8),
                 m.field(m.o_fwd_sta, 6), 10, 6)
    assert again == f


def test_truncated_every_message():
    for f, mt in _all():
        m = mme.Mme()
        end = mme.decode(f, len(f), m) and m.end
        if mt == mme.CM_MNBC_SOUND_IND:
            end = 19 + 28  # the random part may be cut short (QCA pev sends 45 bytes)
        # every cut inside the message proper is an error, never an IndexError
        for cut in (0, 5, 14, 18, 19, end - 1):
            e = raises(mme.MmeError, mme.decode, f[:cut], cut, m)
            assert "short" in str(e) or "truncated" in str(e), (mme.NAMES[mt], cut, e)


def test_malformed():
    f = bytearray(_all()[2][0])
    m = mme.Mme()
    g = bytearray(f)
    g[12] = 0x86
    g[13] = 0xDD
    assert "HomePlug" in str(raises(mme.MmeError, mme.decode, g, len(g), m))
    g = bytearray(f)
    g[14] = 0
    assert "MMV" in str(raises(mme.MmeError, mme.decode, g, len(g), m))
    g = bytearray(f)
    g[17] = 0x10
    assert "fragment" in str(raises(mme.MmeError, mme.decode, g, len(g), m))
    g = bytearray(f)
    g[15] = 0x00
    g[16] = 0xA0  # vendor MME
    assert "not SLAC" in str(raises(mme.MmeError, mme.decode, g, len(g), m))
    assert mme.mmtype_of(g, len(g)) == 0xA000
    assert mme.mmtype_of(g, 10) == -1
    # too many attenuation groups
    p = bytearray(_enc(mme.atten_profile_ind, EVSE, mme.LOCAL_MODEM, EV, AAG))
    p[19 + 6] = 59
    assert "groups" in str(raises(mme.MmeError, mme.decode, p, len(p), m))
    p[19 + 6] = 58
    assert "truncated" in str(raises(mme.MmeError, mme.decode, p, len(p) - 1, m))
    assert "beyond" in str(raises(mme.MmeError, mme.decode, p, len(p) + 1, m))
    raises(mme.MmeError, mme.atten_profile_ind, bytearray(160), EVSE, EV, EV, bytes(59))
    # security type 1 announces cipher suites that must be there
    q = bytearray(_enc(mme.slac_parm_req, mme.BROADCAST, EV, RUN, sec_type=1))
    q[19 + 10] = 30
    assert "truncated" in str(raises(mme.MmeError, mme.decode, q, len(q), m))


def test_vlan_tagged_frame():
    f = _all()[2][0]
    g = f[:12] + b"\x81\x00\x00\xf4" + f[12:]
    mt, m = _dec(g)
    assert mt == mme.CM_SLAC_PARM_REQ and m.off == 23 and m.field(m.o_run_id, 8) == RUN
    assert mme.mmtype_of(g, len(g)) == mme.CM_SLAC_PARM_REQ


def test_mnbc_sound_cut_short_like_qca_pev():
    f = _all()[5][0][: 19 + 45]
    mt, m = _dec(f)
    assert mt == mme.CM_MNBC_SOUND_IND and m.short and m.cnt == 7 and m.field(m.o_run_id, 8) == RUN
    mt, m = _dec(_all()[2][0])
    assert not m.short


def test_short_atten_char_ind_from_the_field():
    # a charger's ATTEN_CHAR.IND that ends after NumSounds (corpus: ABB HPC)
    f = _all()[7][0][: 19 + 51]
    mt, m = _dec(f)
    assert mt == mme.CM_ATTEN_CHAR_IND and m.short and m.num_groups == 0


def test_decode_into_memoryview_does_not_copy():
    f = bytearray(_all()[5][0])
    mv = memoryview(f)
    m = mme.Mme()
    mme.decode(mv, len(f), m)
    f[m.o_run_id] = 0x99  # offsets point into the caller's buffer
    assert m.buf[m.o_run_id] == 0x99
    assert mme.same(f, m.o_run_id, b"\x99\x22") and not mme.same(f, m.o_run_id, RUN)


def test_nid_from_nmk():
    # CM_SET_KEY.REQ in the corpus (pyPLC 2022-10-26): NMK -> NID as the modem computes it
    nmk = bytes.fromhex("3b1fe4cc1bb8f8b8484096dc2eb59e8b")
    assert keys.nid_from_nmk(nmk) == bytes.fromhex("bc90751a5e390e")
    nmk = bytes.fromhex("9ed1f8a5b566e83dc4f1700e4a89afec")
    assert keys.nid_from_nmk(nmk) == bytes.fromhex("b468ace9ff5603")
    assert keys.nid_from_nmk(nmk, 1)[6] == 0x13  # security level in bits 4-5
    raises(ValueError, keys.nid_from_nmk, b"short")
    a = keys.new_nmk()
    b = keys.new_nmk()
    assert len(a) == 16 and a != b
