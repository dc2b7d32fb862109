"""The board side of UpdateFirmware: the HAL's default hook refuses, the simulated
board takes an image that looks like one and records it; the persisted job is only
trusted when it has the right shape."""
import tools  # noqa: F401
from boards.sim.board import World
from firmware.hal import Board
from firmware.ocpp import firmware
from tests.common.test_storage_support import Sandbox, put


class _Cfg:
    def __init__(self, job):
        self.job = job

    def state(self, name, default=None):
        return self.job if name == "fw" else default


class _Cp:
    def __init__(self, root, job):
        self.cfg = _Cfg(job)

        class App:
            pass
        self.app = App()
        self.app.board = World(root).board


def test_hal_default_refuses_an_image():
    b = Board(None, None, None, None, None, None, None, "/tmp")
    assert b.install_firmware("/tmp/whatever.bin") is False


def test_sim_board_takes_only_an_image_and_records_it():
    with Sandbox("fwb") as sb:
        board = World(sb.dir).board
        put(sb.path("good.bin"), b"SIMFW 1.2\nrest of the image")
        put(sb.path("bad.bin"), b"MZ not an image")
        assert board.install_firmware(sb.path("bad.bin")) is False
        assert board.install_firmware(sb.path("missing.bin")) is False
        assert board.install_firmware(sb.path("good.bin")) is True
        assert board.installed == [(27, b"SIMFW 1.2")]


def test_persisted_job_used_only_when_well_formed():
    good = {"url": "http://h/f", "at": 5, "left": 2, "iv": 1, "p": "dl"}
    bad = [None, [], {"p": "dl"}, dict(good, p="bogus"), dict(good, at="5"),
           dict(good, url=7), dict(good, left=None)]
    with Sandbox("fwb") as sb:
        assert firmware.Firmware(_Cp(sb.dir, good)).job == good
        for job in bad:
            fw = firmware.Firmware(_Cp(sb.dir, job))
            assert fw.job is None and fw.status == "Idle", job
        fw = firmware.Firmware(_Cp(sb.dir, dict(good, p="boot")))
        assert fw.status == "Installing"  # until "Installed" is reported after the reboot
