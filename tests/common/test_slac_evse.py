"""Charger-side SLAC state machine: every timer path, lost / duplicated / reordered /
malformed / foreign messages, two cars at once, pilot coupling, keys. Virtual time
through lib.clock.advance; frames fed directly."""
from firmware.slac import evse as ev_mod
from firmware.slac import keys, mme
from firmware.slac.evse import (
    FAILED, MATCHED, MATCHING, OFF, WAITING, SlacEvse, C_EV_MATCH_RETRY,
    TT_EVSE_MATCH_MNBC, TT_EVSE_MATCH_SESSION, TT_EVSE_SLAC_INIT, TT_MATCH_RESPONSE,
    TT_MATCH_SEQUENCE,
)
from tests.common.test_slac_support import (
    EV1, EV2, EVSE_MAC, OTHER_EVSE, Car, Link, Rng, advance, charger, feed, set_key_cnf,
    sound_all,
)


def _to_wait_rsp(e, link, car, db=20):
    feed(e, car.parm_req())
    feed(e, car.start())
    sound_all(e, car, db)
    got = link.take()
    return got


def test_start_sets_key_into_local_modem():
    link = Link()
    e = SlacEvse(link, EVSE_MAC, rng=Rng())
    e.start()
    (mt, m), = link.take()
    assert mt == mme.CM_SET_KEY_REQ and m.field(0, 6) == mme.LOCAL_MODEM
    assert m.field(m.o_nmk, 16) == e.nmk and m.field(m.o_nid, 7) == keys.nid_from_nmk(e.nmk)
    assert (m.key_type, m.pid, m.new_eks) == (1, 4, 1)
    feed(e, set_key_cnf(e, 1))  # QCA: 1 = success
    assert e.key_ok and e.stats["setkey_ok"] == 1


def test_set_key_result_0_accepted_2_refused_and_retries():
    e, link = charger()
    e.rekey()
    feed(e, set_key_cnf(e, 0))  # the HomePlug spec's success value
    assert e.key_ok
    e.rekey()
    feed(e, set_key_cnf(e, 2))
    assert not e.key_ok and e.stats["setkey_refused"] == 1
    link.take()
    e.rekey()
    link.take()
    advance(e, 1000)
    advance(e, 1000)
    advance(e, 1000)
    advance(e, 1000)
    # three requests in all, then it gives up (logged)
    assert link.types() == [mme.CM_SET_KEY_REQ, mme.CM_SET_KEY_REQ]
    assert e.stats["setkey_timeout"] == 3 and not e.key_ok
    # a CNF with a wrong nonce is not ours
    e.rekey()
    b = bytearray(set_key_cnf(e))
    b[19 + 5] ^= 0xFF
    feed(e, bytes(b))
    assert not e.key_ok


def test_whole_sequence_and_fields():
    e, link = charger()
    matched = []
    e.on_matched = matched.append
    car = Car()
    assert e.state == WAITING
    feed(e, car.parm_req())
    (mt, m), = link.take()
    assert mt == mme.CM_SLAC_PARM_CNF and e.state == MATCHING
    assert m.field(0, 6) == EV1 and m.field(m.o_run_id, 8) == car.run
    assert (m.num_sounds, m.time_out, m.resp_type) == (10, 6, 1)
    assert m.field(m.o_fwd_sta, 6) == EV1 and m.field(m.o_sound_target, 6) == mme.BROADCAST
    for _ in range(3):
        feed(e, car.start())
    # profiles 10..19 dB on every group: the average is 14.5 -> 15 (rounded)
    sound_all(e, car, db=lambda i: 10 + i)
    (mt, m), = link.take()
    assert mt == mme.CM_ATTEN_CHAR_IND and m.field(0, 6) == EV1
    assert m.num_sounds == 10 and m.num_groups == 58
    assert m.field(m.o_aag, 58) == bytes([15]) * 58
    assert m.field(m.o_source_addr, 6) == EV1 and m.field(m.o_run_id, 8) == car.run
    feed(e, car.atten_rsp())
    assert link.take() == []
    feed(e, car.match_req(pev_id=b"VIN-OF-THE-CAR-01"))
    (mt, m), = link.take()
    assert mt == mme.CM_SLAC_MATCH_CNF and e.state == MATCHED
    assert m.field(m.o_nmk, 16) == e.nmk and m.field(m.o_nid, 7) == e.nid
    assert m.field(m.o_evse_mac, 6) == EVSE_MAC and m.field(m.o_pev_mac, 6) == EV1
    assert m.field(m.o_pev_id, 17) == b"VIN-OF-THE-CAR-01"  # echoed from the request
    assert len(matched) == 1 and matched[0].ev_mac == EV1 and e.stats["matched"] == 1


def test_nothing_before_pilot_b_5_percent():
    link = Link()
    e = SlacEvse(link, EVSE_MAC, rng=Rng())
    e.start()
    link.take()
    feed(e, Car().parm_req())
    assert link.take() == [] and e.state == OFF
    e.pilot(1, 1000)  # B with a nominal duty: basic charging, no SLAC
    feed(e, Car().parm_req())
    assert link.take() == [] and e.state == OFF
    e.pilot(2, 50)
    assert e.state == WAITING


def test_slac_init_timeout():
    e, link = charger()
    why = []
    e.on_failed = why.append
    advance(e, TT_EVSE_SLAC_INIT - 50)
    assert e.state == WAITING
    advance(e, 50)
    assert e.state == FAILED and why == ["TT_EVSE_SLAC_init"]
    feed(e, Car().parm_req())
    assert link.take() == []  # no matching until the pilot starts over
    e.pilot(5, 0)  # F (the charger's retry sequence)
    e.pilot(1, 50)
    assert e.state == WAITING


def test_lost_parm_cnf_is_answered_again():
    e, link = charger()
    car = Car()
    feed(e, car.parm_req())
    feed(e, car.parm_req())  # the EV repeats after TT_match_response
    assert link.types() == [mme.CM_SLAC_PARM_CNF, mme.CM_SLAC_PARM_CNF]
    assert e.stats["sessions"] == 1 and e.stats["duplicates"] == 1


def test_no_start_atten_char_fails_and_listens_again():
    e, link = charger()
    car = Car()
    feed(e, car.parm_req())
    link.take()
    advance(e, TT_MATCH_SEQUENCE)
    assert e.state == WAITING and e.stats["failed"] == 1
    feed(e, Car(run=b"RUNID-02").parm_req())  # the car repeats the matching
    assert link.types() == [mme.CM_SLAC_PARM_CNF] and e.state == MATCHING


def test_lost_sounds_end_with_the_window():
    e, link = charger()
    car = Car()
    feed(e, car.parm_req())
    feed(e, car.start())
    link.take()
    for cnt in (9, 8, 6, 5, 3, 2):  # four sounds lost (the last one too)
        feed(e, car.sound(cnt))
        feed(e, car.profile(30))
    assert link.take() == []
    advance(e, TT_EVSE_MATCH_MNBC - 50)
    assert link.take() == []
    advance(e, 50)
    (mt, m), = link.take()
    assert mt == mme.CM_ATTEN_CHAR_IND and m.num_sounds == 6 and m.field(m.o_aag, 3) == b"\x1e\x1e\x1e"


def test_longer_ev_time_out_is_honoured():
    e, link = charger()
    car = Car()
    feed(e, car.parm_req())
    feed(e, car.start(time_out=10))  # the EV announces 1 s of sounding
    feed(e, car.sound(9))
    feed(e, car.profile(30))
    link.take()
    advance(e, TT_EVSE_MATCH_MNBC + 50)
    assert link.take() == []
    advance(e, 1000 - TT_EVSE_MATCH_MNBC - 50)
    assert link.types() == [mme.CM_ATTEN_CHAR_IND]


def test_modem_without_profiles_auto_synthesises():
    e, link = charger(atten="auto", synth_db=33)
    car = Car()
    feed(e, car.parm_req())
    feed(e, car.start())
    sound_all(e, car, profiles=False)
    assert link.take()[1:] == []
    advance(e, TT_EVSE_MATCH_MNBC)
    (mt, m), = link.take()
    assert mt == mme.CM_ATTEN_CHAR_IND and m.num_sounds == 10 and m.field(m.o_aag, 58) == bytes([33]) * 58
    assert e.stats["synth_profiles"] == 10


def test_modem_without_profiles_modem_mode_fails():
    e, link = charger(atten="modem")
    car = Car()
    feed(e, car.parm_req())
    feed(e, car.start())
    sound_all(e, car, profiles=False)
    link.take()
    advance(e, TT_EVSE_MATCH_MNBC)
    assert link.take() == [] and e.state == WAITING and e.stats["failed"] == 1


def test_synth_mode_ignores_profiles_and_answers_after_the_last_sound():
    e, link = charger(atten="synth", synth_db=25)
    car = Car()
    feed(e, car.parm_req())
    feed(e, car.start())
    link.take()
    sound_all(e, car, db=60)
    (mt, m), = link.take()
    assert mt == mme.CM_ATTEN_CHAR_IND and m.field(m.o_aag, 58) == bytes([25]) * 58


def test_lost_atten_char_rsp_retries_then_fails():
    e, link = charger()
    car = Car()
    _to_wait_rsp(e, link, car)
    for _ in range(C_EV_MATCH_RETRY):
        advance(e, TT_MATCH_RESPONSE)
        assert link.types() == [mme.CM_ATTEN_CHAR_IND]
    advance(e, TT_MATCH_RESPONSE)
    assert link.take() == [] and e.state == WAITING and e.stats["atten_retry"] == 2


def test_rsp_after_one_retry_then_match():
    e, link = charger()
    car = Car()
    _to_wait_rsp(e, link, car)
    advance(e, TT_MATCH_RESPONSE)
    link.take()
    feed(e, car.atten_rsp())
    feed(e, car.atten_rsp())  # duplicated
    advance(e, TT_MATCH_RESPONSE * 3)
    assert link.take() == []  # no more retries
    feed(e, car.match_req())
    assert e.state == MATCHED


def test_lost_rsp_but_match_req_matches():
    e, link = charger()
    car = Car()
    _to_wait_rsp(e, link, car)
    feed(e, car.match_req())
    assert link.types() == [mme.CM_SLAC_MATCH_CNF] and e.state == MATCHED


def test_negative_rsp_fails():
    e, link = charger()
    car = Car()
    _to_wait_rsp(e, link, car)
    feed(e, car.atten_rsp(result=1))
    assert e.state == WAITING and e.stats["failed"] == 1


def test_lost_match_cnf_is_answered_again():
    e, link = charger()
    car = Car()
    _to_wait_rsp(e, link, car)
    feed(e, car.atten_rsp())
    feed(e, car.match_req())
    first = link.sent[0]
    link.take()
    feed(e, car.match_req())
    assert link.sent == [first] and e.stats["matched"] == 1 and e.stats["duplicates"] == 1


def test_no_match_req_within_match_session():
    e, link = charger()
    car = Car()
    _to_wait_rsp(e, link, car)
    feed(e, car.atten_rsp())
    advance(e, TT_EVSE_MATCH_SESSION - 50)
    assert e.state == MATCHING
    advance(e, 50)
    assert e.state == WAITING


def test_reordered_and_stale_messages_are_ignored():
    e, link = charger()
    car = Car()
    feed(e, car.sound(9))  # before any PARM.REQ
    feed(e, car.start())
    feed(e, car.parm_req())
    link.take()
    feed(e, car.sound(9))  # before START_ATTEN_CHAR
    feed(e, car.match_req())  # far too early
    feed(e, car.atten_rsp())
    assert link.take() == [] and e.state == MATCHING
    feed(e, car.start())
    sound_all(e, car)
    assert link.types() == [mme.CM_ATTEN_CHAR_IND]
    feed(e, Car(run=b"OTHERRUN").atten_rsp())  # another run of the same car
    feed(e, car.parm_req())  # stale duplicate of the first request
    assert link.take() == []
    feed(e, car.atten_rsp())
    feed(e, car.match_req())
    assert e.state == MATCHED


def test_foreign_and_own_frames_ignored():
    e, link = charger()
    car = Car()
    _to_wait_rsp(e, link, car)
    feed(e, car.atten_rsp())
    feed(e, car.match_req(evse=OTHER_EVSE))  # the car chose the charger next door
    assert e.state == MATCHING and e.stats["foreign"] == 1
    b = bytearray(car.parm_req())
    b[6:12] = EVSE_MAC
    feed(e, bytes(b))
    assert link.take() == []


def test_two_cars_interleaved_do_not_mix():
    e, link = charger()
    a = Car(EV1, b"RUN-AAAA")
    b = Car(EV2, b"RUN-BBBB")
    feed(e, a.parm_req())
    feed(e, b.parm_req())
    feed(e, a.start())
    feed(e, b.start())
    for i in range(10):
        feed(e, a.sound(9 - i))
        feed(e, b.sound(9 - i))
        feed(e, b.profile(45))
        feed(e, a.profile(20))
    got = [(m.field(0, 6), m.field(m.o_aag, 1)[0], m.field(m.o_run_id, 8)) for mt, m in link.take()
           if mt == mme.CM_ATTEN_CHAR_IND]
    assert sorted(got) == [(EV1, 20, b"RUN-AAAA"), (EV2, 45, b"RUN-BBBB")]
    feed(e, b.atten_rsp())
    feed(e, a.atten_rsp())
    feed(e, b.match_req(evse=OTHER_EVSE))  # car B matches elsewhere
    feed(e, a.match_req())
    (mt, m), = link.take()
    assert mt == mme.CM_SLAC_MATCH_CNF and m.field(0, 6) == EV1 and e.matched.ev_mac == EV1
    assert [s.state for s in e.sessions].count(ev_mod.S_FREE) == len(e.sessions) - 1


def test_same_car_new_run_replaces_session_and_slots_are_bounded():
    e, link = charger(max_sessions=2)
    feed(e, Car(EV1, b"RUN-0001").parm_req())
    feed(e, Car(EV1, b"RUN-0002").parm_req())
    assert e.stats["sessions"] == 2
    assert sum(1 for s in e.sessions if s.state != ev_mod.S_FREE) == 1
    feed(e, Car(EV2).parm_req())
    feed(e, Car(b"\x02\x00\x00\x00\x00\xe3").parm_req())
    assert e.stats["no_slot"] == 1


def test_pilot_e_aborts_and_rekeys_after_disclosure():
    e, link = charger()
    car = Car()
    _to_wait_rsp(e, link, car)
    feed(e, car.atten_rsp())
    e.pilot(4, 50)  # E: abort, nothing disclosed yet
    assert e.state == OFF and link.take() == []
    e.pilot(1, 50)
    old = e.nmk
    _to_wait_rsp(e, link, Car(run=b"RUN-0003"))
    feed(e, Car(run=b"RUN-0003").atten_rsp())
    feed(e, Car(run=b"RUN-0003").match_req())
    link.take()
    e.pilot(1, 1000)  # duty change while matched: the link stays
    assert e.state == MATCHED
    e.pilot(0, 1000)  # unplugged: session over, new key into the modem
    (mt, m), = link.take()
    assert e.state == OFF and mt == mme.CM_SET_KEY_REQ and e.nmk != old
    assert m.field(m.o_nmk, 16) == e.nmk and m.field(m.o_nid, 7) == keys.nid_from_nmk(e.nmk)


def test_leaving_5_percent_aborts_matching():
    e, link = charger()
    feed(e, Car().parm_req())
    e.pilot(2, 1000)
    assert e.state == OFF
    assert all(s.state == ev_mod.S_FREE for s in e.sessions)


def test_validate_not_required_by_default():
    e, link = charger()
    car = Car()
    _to_wait_rsp(e, link, car)
    feed(e, car.atten_rsp())
    feed(e, car.validate_req(0))
    (mt, m), = link.take()
    assert mt == mme.CM_VALIDATE_CNF and m.result == mme.VAL_NOT_REQUIRED


def test_validate_counts_bcb_toggles():
    e, link = charger(validate=True)
    car = Car()
    _to_wait_rsp(e, link, car)
    feed(e, car.atten_rsp())
    feed(e, car.validate_req(0))
    (mt, m), = link.take()
    assert m.result == mme.VAL_READY and m.toggle_num == 0
    feed(e, car.validate_req(10))
    for _ in range(2):  # two B -> C -> B toggles
        e.pilot(2, 50)
        advance(e, 100)
        e.pilot(1, 50)
        advance(e, 100)
    assert link.take() == []
    advance(e, 600)
    (mt, m), = link.take()
    assert mt == mme.CM_VALIDATE_CNF and m.toggle_num == 2 and m.result == mme.VAL_SUCCESS
    feed(e, car.match_req())
    assert e.state == MATCHED


def test_malformed_and_random_frames_never_raise():
    e, link = charger()
    rng = Rng(7)
    types = list(mme.NAMES)
    for i in range(300):
        n = 14 + rng(1)[0] % 120
        f = bytearray(rng(n))
        if n >= 19:
            f[0:6] = EVSE_MAC if i & 1 else mme.BROADCAST
            f[12:15] = b"\x88\xe1\x01"
            mt = types[i % len(types)]
            f[15] = mt & 0xFF
            f[16] = mt >> 8
            f[17] = 0
        e.on_frame(f, n)
    assert e.stats["rx_bad"] > 0
    assert e.state in (WAITING, MATCHING)


def test_send_failure_is_counted():
    e, link = charger()
    link.fail = True
    feed(e, Car().parm_req())
    assert e.stats["tx_fail"] == 1


def test_follows_the_charger_event_bus():
    from firmware import events

    assert (ev_mod.EV_CP_STATE, ev_mod.EV_DUTY) == (events.CP_STATE, events.DUTY)
    link = Link()
    e = SlacEvse(link, EVSE_MAC, rng=Rng())
    bus = events.Bus()
    bus.subscribe(e.on_event)
    bus.emit(events.CP_STATE, 1)
    assert e.state == OFF
    bus.emit(events.DUTY, 50)  # the charger offers high-level communication
    assert e.state == WAITING
    bus.emit(events.CP_STATE, 5)  # F
    assert e.state == OFF


def test_match_join_supervision_restarts_matching():
    e, link = charger(join_ms=ev_mod.TT_MATCH_JOIN)
    car = Car()
    _to_wait_rsp(e, link, car)
    feed(e, car.atten_rsp())
    feed(e, car.match_req())
    link.take()
    advance(e, ev_mod.TT_MATCH_JOIN - 50)
    assert e.state == MATCHED
    advance(e, 50)
    # no link within TT_match_join: reset, new key, listen again (the car retries)
    assert e.state == WAITING and link.types() == [mme.CM_SET_KEY_REQ]


def test_link_established_stops_join_supervision():
    e, link = charger(join_ms=ev_mod.TT_MATCH_JOIN)
    car = Car()
    _to_wait_rsp(e, link, car)
    feed(e, car.match_req())
    e.link_established()
    advance(e, ev_mod.TT_MATCH_JOIN + 100)
    assert e.state == MATCHED
