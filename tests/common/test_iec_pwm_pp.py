"""Duty cycle and cable coding against the tables of IEC 61851-1 Annex A / B."""
from firmware.iec61851 import proximity, pwm


def test_duty_formula_at_table_points():
    # (deciamps, per-mille) straight from duty = I / 0.6 and duty = I / 2.5 + 64
    for da, duty in ((60, 100), (100, 166), (160, 266), (320, 533), (510, 850), (630, 892), (800, 960)):
        assert pwm.duty_for(da) == duty, (da, pwm.duty_for(da))


def test_below_6a_offers_nothing_and_above_80a_is_capped():
    assert pwm.duty_for(59) == pwm.DUTY_X1
    assert pwm.duty_for(0) == pwm.DUTY_X1
    assert pwm.duty_for(1000) == pwm.duty_for(800)


def test_offer_never_exceeds_the_limit():
    for da in range(60, 801):
        back = pwm.current_for(pwm.duty_for(da))
        assert back <= da, (da, back)
        # within the duty cycle's resolution; the formulas' step at 85 % is 1.75 A wide
        assert da - back <= (18 if 510 < da < 528 else 5), (da, back)


def test_current_for_special_duties():
    assert pwm.current_for(pwm.DUTY_HLC) == -1
    assert pwm.current_for(1000) == 0
    assert pwm.current_for(0) == 0
    assert pwm.current_for(75) == 0  # between 7 % and 8 %: not allowed
    assert pwm.current_for(970) == 800


def test_cable_coding_bands():
    for ohms, amps in ((1500, 13), (680, 20), (220, 32), (100, 63), (1100, 13), (2100, 13), (160, 32)):
        assert proximity.cable_amps(ohms) == amps, (ohms, proximity.cable_amps(ohms))


def test_cable_coding_invalid_and_open():
    assert proximity.cable_amps(30) == proximity.INVALID  # short
    assert proximity.cable_amps(3000) == proximity.INVALID
    assert proximity.cable_amps(5000) == proximity.OPEN
    assert proximity.cable_amps(-1) == proximity.OPEN
