"""Every SLAC MME in the real-traffic corpus (../shared/corpus/slac/*.jsonl: captures of
real cars and chargers) decodes, and re-encodes byte for byte where we can encode it.

CPython-only: it reads 4.9 MB of JSON lines from outside the repository (the shared
corpus next to the clone); skipped when the corpus is not there.
"""
import glob
import json
import os

import pytest

import tools
from firmware.slac import mme

CORPUS = os.path.join(os.path.dirname(tools.ROOT), "shared", "corpus", "slac")
FILES = sorted(glob.glob(os.path.join(CORPUS, "*.jsonl")))
if not FILES:
    pytest.skip("no corpus at %s" % CORPUS, allow_module_level=True)

# Damaged in the capture itself (serial-log bit errors in the Qingdao serh270 clara logs,
# see corpus/README.md): the decoder must reject them, with this reason.
DAMAGED = {("2024-05-12_clara_QingdaoPenodato_serh270_fault_cableCheck.claralog.pcap.jsonl", 278): "fragmented"}


def _reencode(mt, f, m, b):
    F = lambda o, n: bytes(f[o:o + n])  # noqa: E731
    dst, src = f[0:6], f[6:12]
    if mt == mme.CM_SLAC_PARM_REQ:
        return mme.slac_parm_req(b, dst, src, F(m.o_run_id, 8), m.app_type, m.sec_type)
    if mt == mme.CM_SLAC_PARM_CNF:
        return mme.slac_parm_cnf(b, dst, src, F(m.o_run_id, 8), F(m.o_fwd_sta, 6), m.num_sounds,
                                 m.time_out, m.resp_type, F(m.o_sound_target, 6), m.app_type, m.sec_type)
    if mt == mme.CM_START_ATTEN_CHAR_IND:
        return mme.start_atten_char_ind(b, dst, src, F(m.o_run_id, 8), F(m.o_fwd_sta, 6), m.num_sounds,
                                        m.time_out, m.resp_type, m.app_type, m.sec_type)
    if mt == mme.CM_MNBC_SOUND_IND:
        return mme.mnbc_sound_ind(b, dst, src, F(m.o_run_id, 8), m.cnt, F(m.o_sender_id, 17),
                                  F(m.o_rnd, 16), m.app_type, m.sec_type)
    if mt == mme.CM_ATTEN_PROFILE_IND:
        return mme.atten_profile_ind(b, dst, src, F(m.o_pev_mac, 6), F(m.o_aag, m.num_groups))
    if mt == mme.CM_ATTEN_CHAR_IND:
        if m.short:
            return None  # a charger's frame without the profile: nothing we would send
        return mme.atten_char_ind(b, dst, src, F(m.o_source_addr, 6), F(m.o_run_id, 8), m.num_sounds,
                                  F(m.o_aag, m.num_groups), -1, F(m.o_source_id, 17),
                                  F(m.o_resp_id, 17), m.app_type, m.sec_type)
    if mt == mme.CM_ATTEN_CHAR_RSP:
        return mme.atten_char_rsp(b, dst, src, F(m.o_source_addr, 6), F(m.o_run_id, 8), m.result,
                                  F(m.o_source_id, 17), F(m.o_resp_id, 17), m.app_type, m.sec_type)
    if mt == mme.CM_SLAC_MATCH_REQ:
        return mme.slac_match_req(b, dst, src, F(m.o_pev_mac, 6), F(m.o_evse_mac, 6), F(m.o_run_id, 8),
                                  F(m.o_pev_id, 17), F(m.o_evse_id, 17), m.app_type, m.sec_type)
    if mt == mme.CM_SLAC_MATCH_CNF:
        return mme.slac_match_cnf(b, dst, src, F(m.o_pev_mac, 6), F(m.o_evse_mac, 6), F(m.o_run_id, 8),
                                  F(m.o_nid, 7), F(m.o_nmk, 16), F(m.o_pev_id, 17), F(m.o_evse_id, 17),
                                  m.app_type, m.sec_type)
    if mt == mme.CM_SET_KEY_REQ:
        return mme.set_key_req(b, dst, src, F(m.o_nid, 7), F(m.o_nmk, 16), F(m.o_my_nonce, 4),
                               F(m.o_your_nonce, 4), m.pid, m.prn, m.pmn, m.cco_cap, m.key_type, m.new_eks)
    if mt == mme.CM_SET_KEY_CNF:
        return mme.set_key_cnf(b, dst, src, m.result, F(m.o_my_nonce, 4), F(m.o_your_nonce, 4), m.pid,
                               m.prn, m.pmn, m.cco_cap)
    if mt in (mme.CM_VALIDATE_REQ, mme.CM_VALIDATE_CNF):
        return None  # none in the corpus
    raise AssertionError(hex(mt))


def test_corpus_slac_frames_decode_and_reencode():
    m = mme.Mme()
    b = bytearray(mme.MAX_MME)
    n_ok = n_same = n_pad = n_fmi = n_short = n_vlan = 0
    rejected = {}
    seen_types = set()
    for path in FILES:
        name = os.path.basename(path)
        for line in open(path):
            r = json.loads(line)
            mt = int(r["mmtype"], 16)
            if mt not in mme.NAMES or r["mmv"] != 1:
                continue  # not SLAC (vendor MMEs, or an MMV damaged in the capture)
            f = bytes.fromhex(r["hex"])
            try:
                assert mme.decode(f, len(f), m) == mt
            except mme.MmeError as e:
                rejected[(name, r["frame"])] = str(e)
                continue
            n_ok += 1
            seen_types.add(mt)
            if f[12:14] == b"\x81\x00":  # 802.1Q tag: compare the untagged frame
                n_vlan += 1
                f = f[:12] + f[16:]
                mme.decode(f, len(f), m)
            n = _reencode(mt, f, m, b)
            if n is None:
                n_short += 1
                continue
            e = m.end
            assert n == max(60, e)
            if bytes(b[:e]) == f[:e]:
                if any(f[e:]):
                    n_pad += 1  # padding with garbage in the original
                else:
                    n_same += 1
            else:
                # only the FMI/FMSN bytes may differ (bit errors in serial logs)
                assert bytes(b[:17]) == f[:17] and bytes(b[19:e]) == f[19:e], (name, r["frame"])
                n_fmi += 1
    for k, why in rejected.items():
        assert k in DAMAGED and DAMAGED[k] in why, (k, why)
    print("SLAC MMEs decoded %d (VLAN-tagged %d), identical %d, identical but for padding %d, "
          "FMI damage %d, not re-encodable %d, rejected %d" % (
              n_ok, n_vlan, n_same, n_pad, n_fmi, n_short, len(rejected)))
    assert n_ok > 3000 and n_same > 3000 and n_fmi <= 2 and n_short <= 2
    assert {mme.CM_SLAC_PARM_REQ, mme.CM_SLAC_PARM_CNF, mme.CM_START_ATTEN_CHAR_IND,
            mme.CM_MNBC_SOUND_IND, mme.CM_ATTEN_PROFILE_IND, mme.CM_ATTEN_CHAR_IND,
            mme.CM_ATTEN_CHAR_RSP, mme.CM_SLAC_MATCH_REQ, mme.CM_SLAC_MATCH_CNF,
            mme.CM_SET_KEY_REQ, mme.CM_SET_KEY_CNF} <= seen_types


def test_corpus_chargers_nids_follow_from_their_nmks():
    """Commercial chargers (Alpitronic, ABB, Tesla, Compleo, Kempower, ...) derive the NID
    they hand out in CM_SLAC_MATCH.CNF from the NMK as keys.nid_from_nmk does; test
    chargers (pyPLC in EVSE mode, dSPACE) use free NIDs, which the modems accept too."""
    from firmware.slac import keys
    m = mme.Mme()
    derived = other = 0
    for path in FILES:
        for line in open(path):
            r = json.loads(line)
            if r["mmtype"] != "0x607d" or r["mmv"] != 1:
                continue
            f = bytes.fromhex(r["hex"])
            mme.decode(f, len(f), m)
            if keys.nid_from_nmk(m.field(m.o_nmk, 16)) == m.field(m.o_nid, 7):
                derived += 1
            else:
                other += 1
    print("CM_SLAC_MATCH.CNF NIDs derived from the NMK: %d, other: %d" % (derived, other))
    assert derived >= 50
