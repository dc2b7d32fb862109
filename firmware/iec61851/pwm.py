"""Duty cycle <-> current, IEC 61851-1 Annex A (Table A.7 / A.8).

Currents are integer deciamps (dA) and duties integer per-mille, so no floats are needed
on the device.
"""
from micropython import const

MIN_DA = const(60)  # 6 A: the lowest current basic charging may offer
MAX_DA = const(800)  # 80 A: the highest the duty cycle can express
DUTY_HLC = const(50)  # 5 %: "use high-level communication"
DUTY_X1 = const(1000)  # steady +12 V: nothing offered


def duty_for(da):
    """Per-mille duty offering ``da`` deciamps, or DUTY_X1 when below 6 A."""
    if da < MIN_DA:
        return DUTY_X1
    if da > MAX_DA:
        da = MAX_DA
    if da <= 510:
        return da * 10 // 6  # duty % = I / 0.6
    duty = da * 4 // 10 + 640  # duty % = I / 2.5 + 64
    # the two formulas meet with a step: 85 % means 51 A, 85.1 % already 52.75 A
    return duty if duty > 850 else 850


def current_for(duty):
    """Deciamps a vehicle may draw at ``duty`` per-mille (0: not allowed, -1: HLC)."""
    if 30 <= duty <= 70:
        return -1
    if duty < 80 or duty > 970:
        return 0
    if duty <= 850:
        return duty * 6 // 10
    da = (duty - 640) * 10 // 4
    return MAX_DA if da > MAX_DA else da
