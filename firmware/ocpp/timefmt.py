"""RFC 3339 timestamps for OCPP, without ``time.gmtime`` (its epoch differs by port)."""


def _days(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def iso(ts):
    """Unix seconds -> ``YYYY-MM-DDTHH:MM:SSZ``."""
    ts = int(ts)
    z, s = divmod(ts, 86400)
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    y = yoe + era * 400 + (m <= 2)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, s // 3600, s // 60 % 60, s % 60)


def parse(s):
    """An RFC 3339 date-time (as ``schema.is_datetime`` accepts it) -> Unix seconds.

    A missing zone counts as UTC; fractions are dropped. Raises ValueError."""
    try:
        t = _days(int(s[0:4]), int(s[5:7]), int(s[8:10])) * 86400 \
            + int(s[11:13]) * 3600 + int(s[14:16]) * 60 + int(s[17:19])
    except (ValueError, IndexError):
        raise ValueError("bad date-time")
    i = 19
    n = len(s)
    if i < n and s[i] == ".":
        i += 1
        while i < n and "0" <= s[i] <= "9":
            i += 1
    if i < n and s[i] in "+-" and n >= i + 6:
        off = int(s[i + 1:i + 3]) * 3600 + int(s[i + 4:i + 6]) * 60
        t -= off if s[i] == "+" else -off
    return t
