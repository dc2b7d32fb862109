"""The board's config.json: applied when good, refused as a whole (defaults) when not."""
from firmware import config
from firmware.main import load_config
from firmware.storage import fs

_DIR = "build/test-config"


class _Board:
    fs_root = _DIR


def _write(text):
    fs.remove_tree(_DIR)
    fs.makedirs(_DIR)
    with open(fs.join(_DIR, "config.json"), "w") as f:
        f.write(text)


def test_no_file_gives_the_defaults():
    fs.remove_tree(_DIR)
    assert load_config(_Board()) == config.make()


def test_file_and_overrides_apply_in_order():
    _write('{"max_current_a": 32, "phases": 1}')
    cfg = load_config(_Board(), {"phases": 3})
    assert cfg["max_current_a"] == 32 and cfg["phases"] == 3


def test_bad_files_fall_back_to_the_defaults():
    for text in ('{"max_current_a": 99}', '[1, 2]', '{"max_current_a": ', '"text"', '{"nope": 1}'):
        _write(text)
        assert load_config(_Board()) == config.make(), text
