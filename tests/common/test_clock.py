from lib import clock


def test_ticks_diff_across_wrap():
    t = clock.ticks_ms()
    later = clock.ticks_add(t, 1500)
    assert clock.ticks_diff(later, t) == 1500
    assert clock.ticks_diff(t, later) == -1500
    for base in (0, 12345):
        a = clock.ticks_add(base, -10)
        assert clock.ticks_diff(clock.ticks_add(a, 25), a) == 25


def test_advance_moves_the_clock():
    before = clock.ticks_ms()
    skew = clock.skew_ms()
    clock.advance(60000)
    try:
        assert clock.ticks_diff(clock.ticks_ms(), before) >= 60000
        assert clock.skew_ms() == skew + 60000
    finally:
        clock.advance(-60000)
