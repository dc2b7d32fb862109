"""The persisted session log: one journal record per start, checkpoint and stop.

A session whose stop record is missing at boot was cut by a power loss: ``recover()``
closes it with reason ``PowerLoss`` and the last persisted meter reading, so no session
is lost and none stays open forever.
"""
import json

from lib import log
from firmware.storage.journal import Journal

_TAG = "record"
_KEEP_DONE = 20  # finished sessions kept when the journal is compacted


class SessionRecord:
    """Session log on a :class:`firmware.storage.journal.Journal`."""

    def __init__(self, path, max_bytes=16384):
        self.journal = Journal(path, max_bytes)
        self._last_id = 0
        self.open = None  # dict of an unfinished session found at boot
        self.done = []  # summaries of finished sessions, oldest first
        for _seq, payload in self.journal.records():
            self._replay(payload)

    def _replay(self, payload):
        try:
            r = json.loads(payload)
            kind = r["t"]
            sid = r["id"]
            wh = r["wh"]
            ts = r["ts"]
            if type(sid) is not int or type(wh) is not int:
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError):
            # the journal's CRC makes this unlikely; a record we cannot use must not stop the boot
            log.warn(_TAG, "skipping unreadable record")
            return
        if sid > self._last_id:
            self._last_id = sid
        if kind == "start":
            self.open = r
            r["wh_last"] = wh
        elif kind == "meter" and self.open is not None and self.open["id"] == sid:
            self.open["wh_last"] = wh
            self.open["ts_last"] = ts
        elif kind == "stop":
            if self.open is not None and self.open["id"] == sid:
                self.open = None
            self.done.append(r)
            if len(self.done) > _KEEP_DONE:
                self.done.pop(0)

    def _append(self, rec):
        self.journal.append(json.dumps(rec).encode())
        self._replay(json.dumps(rec))
        if self.journal.over_limit():
            self._compact()

    def _compact(self):
        keep = [json.dumps(r).encode() for r in self.done]
        o = self.open
        if o is not None:
            start = {"t": "start", "id": o["id"], "tag": o.get("tag"), "wh": o["wh"], "ts": o["ts"]}
            meter = {"t": "meter", "id": o["id"], "wh": o["wh_last"], "ts": o.get("ts_last", o["ts"])}
            keep.append(json.dumps(start).encode())
            keep.append(json.dumps(meter).encode())
        self.journal.rewrite(keep)

    def next_id(self):
        return self._last_id + 1

    def started(self, s):
        self._append({"t": "start", "id": s.sid, "tag": s.id_tag, "wh": s.start_wh, "ts": s.start_s})

    def checkpoint(self, s, ts):
        self._append({"t": "meter", "id": s.sid, "wh": s.energy_wh, "ts": ts})

    def stopped(self, s, ts):
        self._append({
            "t": "stop", "id": s.sid, "tag": s.id_tag, "wh0": s.start_wh, "wh": s.energy_wh,
            "ts": ts, "reason": s.stop_reason,
        })

    def recover(self):
        """Close a session that a power loss left open; returns its stop record or None."""
        o = self.open
        if o is None:
            return None
        rec = {
            "t": "stop", "id": o["id"], "tag": o.get("tag"), "wh0": o["wh"], "wh": o["wh_last"],
            "ts": o.get("ts_last", o["ts"]), "reason": "PowerLoss",
        }
        self._append(rec)
        log.warn(_TAG, "session %d closed after power loss at %d Wh", o["id"], o["wh_last"])
        return rec
