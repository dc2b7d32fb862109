"""Power cuts on a real littlefs: the journal and the store on MicroPython's own littlefs
driver (VfsLfs2, as on the device) over a RAM block device that loses power at a chosen
write or erase, half-way through it. A "reboot" mounts what is left and checks it.

CPython has no littlefs driver: there these tests return at once (the host filesystem
cases are in test_storage_journal.py and test_storage_kv.py).
"""
import os

from firmware.storage.journal import Journal
from firmware.storage.kv import Store
from tests.common.test_storage_support import Sandbox

_VFS = getattr(os, "VfsLfs2", None)
_BS = 128
_BLOCKS = 64
_EIO = 5


class _Flash:
    """Block device in RAM; after ``budget`` program/erase operations the power is off.

    Errors go back to littlefs as return codes (no exception unwinds through its C
    code), and nothing here allocates: littlefs may call in from a finaliser, where
    the heap is locked.
    """

    def __init__(self):
        # one small buffer per block: no large contiguous allocation in a small heap
        self.blocks = [bytearray(_BS) for _ in range(_BLOCKS)]
        self.budget = -1  # unlimited
        self.ops = 0

    def copy_from(self, other):
        for mine, theirs in zip(self.blocks, other.blocks):
            mine[:] = theirs

    def _spend(self):
        """How many halves of this operation get through: 2 (all), 1 (the cut) or 0."""
        if self.budget == 0:
            return 0
        self.ops += 1
        if self.budget > 0:
            self.budget -= 1
            if self.budget == 0:
                return 1
        return 2

    def readblocks(self, blk, buf, off=0):
        d = self.blocks[blk]
        for i in range(len(buf)):
            buf[i] = d[off + i]

    def writeblocks(self, blk, buf, off=None):
        part = self._spend()
        d = self.blocks[blk]
        off = off or 0
        for i in range(len(buf) * part // 2):
            d[off + i] = buf[i]
        return 0 if part == 2 else -_EIO

    def ioctl(self, op, arg):
        if op == 4:
            return _BLOCKS
        if op == 5:
            return _BS
        if op == 6:
            part = self._spend()
            d = self.blocks[arg]
            for i in range(_BS * part // 2):
                d[i] = 0xFF
            return 0 if part == 2 else -_EIO
        return 0


def _mount(flash, point):
    try:
        os.umount(point)
    except OSError:
        pass
    os.mount(_VFS(flash), point)


def _umount(point):
    try:
        os.umount(point)
    except OSError:
        pass


def _cut_runs(point, work, check, step):
    """Run ``work`` once in full, then once per cut point; ``check`` each reboot."""
    # Two devices for the whole run: allocating 8 KB per cut point fragments the heap.
    flash = _Flash()
    rebooted = _Flash()
    _VFS.mkfs(flash)
    flash.ops = 0
    state = {}
    _mount(flash, point)
    work(point, state)
    _umount(point)
    total = flash.ops
    for budget in range(1, total + 1, step):
        flash.budget = -1
        _VFS.mkfs(flash)
        flash.ops = 0
        flash.budget = budget
        state = {}
        _mount(flash, point)
        try:
            work(point, state)
            cut = False
        except OSError:
            cut = True
        _umount(point)
        assert cut or budget == total, budget
        rebooted.copy_from(flash)
        _mount(rebooted, point)
        try:
            check(point, state, budget)
        finally:
            _umount(point)
    return total


def _payload(seq):
    return ("rec-%d-" % seq).encode() + bytes(seq % 23)


def _journal_work(point, state):
    state["live"] = []
    state["doing"] = None
    j = Journal(point + "/txq.j", max_bytes=300, max_record=64)
    state["opened"] = True
    for i in range(14):
        state["doing"] = ("append", i)
        assert j.append(_payload(i)) == i
        state["live"].append(i)
        if j.over_limit():
            cutoff = j.next_seq - 3
            state["doing"] = ("compact", cutoff)
            j.compact(lambda s, p: s >= cutoff)
            state["live"] = [s for s in state["live"] if s >= cutoff]
        state["doing"] = None


def _journal_check(point, state, budget):
    path = point + "/txq.j"
    j = Journal(path, max_bytes=300, max_record=64)
    got = list(j.records())
    for seq, p in got:
        assert p == _payload(seq), budget
    seqs = [s for s, _p in got]
    live = state.get("live", [])
    doing = state.get("doing")
    if doing is None:
        ok = seqs == live
    elif doing[0] == "append":
        ok = seqs == live or seqs == live + [doing[1]]
    else:
        ok = seqs == live or seqs == [s for s in live if s >= doing[1]]
    assert ok, (budget, seqs, live, doing)
    # Littlefs commits whole writes: no torn record, only a torn first header when
    # the cut hit the creation of the journal.
    assert j.bad_records == 0, budget
    assert j.torn_tails == 0 or not state.get("opened"), budget
    nxt = j.append(b"after reboot")
    assert list(Journal(path, max_bytes=300, max_record=64).records()) == got + [(nxt, b"after reboot")]


def _doc(g):
    return {"gen": g, "pad": "x" * (g * 9)}


def _kv_work(point, state):
    state["done"] = 0
    s = Store(point + "/cfg.json")
    for g in range(1, 7):
        state["doing"] = g
        s.save(_doc(g))
        state["done"] = g


def _kv_check(point, state, budget):
    done = state.get("done", 0)
    doing = state.get("doing", 0)
    s = Store(point + "/cfg.json")
    got = s.load(None)
    allowed = [_doc(done) if done else None]
    if doing != done:
        allowed.append(_doc(doing))
    assert got in allowed, (budget, got, done, doing)
    s.save({"after": 1})
    assert Store(point + "/cfg.json").load() == {"after": 1}


def test_journal_power_cut_at_every_flash_operation():
    if _VFS is None:
        return
    with Sandbox("lfsj"):
        total = _cut_runs("/lfs_j", _journal_work, _journal_check, 1)
        assert total > 50  # the workload really wrote and compacted


def test_store_power_cut_at_every_flash_operation():
    if _VFS is None:
        return
    with Sandbox("lfsk"):
        total = _cut_runs("/lfs_k", _kv_work, _kv_check, 1)
        assert total > 20
