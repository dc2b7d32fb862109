"""Control pilot circuit: the EVSE's +-12 V source behind 1 kOhm, the vehicle's diode and
resistors (IEC 61851-1 Annex A), and the EVSE's measurement front end.

All values are integer millivolts and ohms.
"""
R_SOURCE = 1000
V_SOURCE = 12000
V_DIODE = 700  # forward drop of the vehicle's diode
R_B = 2740  # R2 (S2 open): state B
R_C = 2740 * 1300 // (2740 + 1300)  # R2 || R3 (1.3 k): state C
R_D = 2740 * 270 // (2740 + 270)  # R2 || R3 (270): state D, ventilation

# Front end: -15..+15 V onto a 12-bit ADC
ADC_MAX = 4095
ADC_ZERO = 2048
UV_PER_CODE = 30000000 // 4095


def line_mv(source_mv, load_ohms, diode):
    """CP line voltage with the source at ``source_mv`` and the vehicle's load.

    ``load_ohms`` None: nothing connected; 0: CP shorted to PE.
    """
    if load_ohms is None:
        return source_mv
    if load_ohms == 0:
        return 0
    if diode:
        if source_mv <= V_DIODE:
            return source_mv  # diode blocks: no current, the line follows the source
        i_ua = (source_mv - V_DIODE) * 1000 // (R_SOURCE + load_ohms)
        return source_mv - i_ua * R_SOURCE // 1000
    return source_mv * load_ohms // (R_SOURCE + load_ohms)


def to_code(mv):
    """ADC code the front end produces for ``mv`` on the CP line (clipped to the rails)."""
    code = ADC_ZERO + mv * 1000 // UV_PER_CODE
    if code < 0:
        return 0
    if code > ADC_MAX:
        return ADC_MAX
    return code
