"""Session log: records survive a reboot; an open session is closed as PowerLoss."""
from firmware.session.controller import Session
from firmware.session.record import SessionRecord
from firmware.storage import fs

_DIR = "build/test-record"


def _fresh():
    fs.remove_tree(_DIR)
    fs.makedirs(_DIR)
    return fs.join(_DIR, "sessions.log")


def test_finished_session_is_kept_across_reboot():
    path = _fresh()
    rec = SessionRecord(path)
    s = Session(rec.next_id(), "tag1", 1000, 100)
    rec.started(s)
    s.energy_wh = 1500
    rec.checkpoint(s, 160)
    s.energy_wh = 1800
    s.stop_reason = "EVDisconnected"
    rec.stopped(s, 200)
    again = SessionRecord(path)
    assert again.open is None
    assert again.recover() is None
    assert len(again.done) == 1
    d = again.done[0]
    assert (d["id"], d["wh0"], d["wh"], d["reason"]) == (1, 1000, 1800, "EVDisconnected")
    assert again.next_id() == 2


def test_power_loss_closes_with_the_last_checkpoint():
    path = _fresh()
    rec = SessionRecord(path)
    s = Session(rec.next_id(), "t", 5000, 10)
    rec.started(s)
    for wh in (5100, 5200, 5300):
        s.energy_wh = wh
        rec.checkpoint(s, wh)
    # power lost here: no stop record
    boot = SessionRecord(path)
    stop = boot.recover()
    assert stop["reason"] == "PowerLoss" and stop["wh"] == 5300 and stop["wh0"] == 5000
    assert SessionRecord(path).recover() is None  # closed once, not again


def test_compaction_keeps_the_open_session_and_history():
    path = _fresh()
    rec = SessionRecord(path, max_bytes=1024)
    for i in range(30):
        s = Session(rec.next_id(), "t", i * 100, i)
        rec.started(s)
        s.energy_wh = i * 100 + 50
        s.stop_reason = "Local"
        rec.stopped(s, i)
    s = Session(rec.next_id(), "t", 9000, 99)
    rec.started(s)
    s.energy_wh = 9400
    rec.checkpoint(s, 100)
    assert rec.journal.size < 4096
    boot = SessionRecord(path)
    assert boot.next_id() == 32
    assert boot.open is not None and boot.open["wh"] == 9000 and boot.open["wh_last"] == 9400
    assert len(boot.done) == 20 and boot.done[-1]["id"] == 30


def test_authorised_before_plug_starts_the_session_at_plug():
    from boards.sim.board import World
    from firmware import config, events
    from firmware.session.controller import SessionController

    path = _fresh()
    w = World(_DIR)
    bus = events.Bus()
    sc = SessionController(config.make({"auth": "external"}), w.board, bus, SessionRecord(path))
    sc.authorize("RFID1")  # card first, then the cable
    assert sc.current is None
    bus.emit(events.PLUGGED, 32)
    assert sc.current is not None and sc.current.id_tag == "RFID1"
    bus.emit(events.UNPLUGGED)
    assert sc.last.stop_reason == "EVDisconnected" and not sc.authorized()


def test_records_of_the_wrong_shape_are_skipped_not_fatal():
    path = _fresh()
    rec = SessionRecord(path)
    for junk in (b"[1, 2]", b'{"t": "start", "id": "x", "wh": 1, "ts": 0}', b'{"t": "meter"}',
                 b'{"t": "start", "id": 1, "wh": "5", "ts": 0}', b"not json"):
        rec.journal.append(junk)
    s = Session(rec.next_id(), "t", 100, 1)
    rec.started(s)
    boot = SessionRecord(path)  # must not raise
    assert boot.open is not None and boot.open["id"] == 1 and boot.open["wh"] == 100
    assert boot.recover()["reason"] == "PowerLoss"
