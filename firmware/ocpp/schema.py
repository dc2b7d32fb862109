"""Payload validation for OCPP-J from compact tables, and the CALLERROR codes.

A table is plain data: ``{field: (type, arg, ...)}`` where type is one of
``s`` string (arg: max length), ``i`` integer / ``n`` number (arg: minimum),
``b`` boolean, ``e`` enumeration (arg: tuple of values), ``t`` date-time string,
``o`` object (arg: nested table), ``a`` array (arg: item spec, then minimum items),
``*`` anything; a trailing ``!`` marks a required field. Example::

    RESET = {"type": ("e!", ("Hard", "Soft"))}
    GET_CONFIGURATION = {"key": ("a", ("s", 50))}

Error codes: not an object / unknown field → FormationViolation, missing required
field → ProtocolError, too few array items → OccurenceConstraintViolation, wrong type,
string too long or malformed date-time → TypeConstraintViolation, value outside an
enumeration or below a minimum → PropertyConstraintViolation.
"""

NOT_IMPLEMENTED = "NotImplemented"
NOT_SUPPORTED = "NotSupported"
INTERNAL_ERROR = "InternalError"
PROTOCOL_ERROR = "ProtocolError"
SECURITY_ERROR = "SecurityError"
FORMATION_VIOLATION = "FormationViolation"
PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"  # sic, OCPP 1.6
TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
GENERIC_ERROR = "GenericError"


class RpcError(Exception):
    """Base of the errors ``Rpc.call`` raises."""


class CallError(RpcError):
    """A CALLERROR: raised by ``call`` when the peer answers with one, and raised by a
    handler to answer an incoming call with one."""

    def __init__(self, code, description="", details=None):
        super().__init__("%s: %s" % (code, description))
        self.code = code
        self.description = description
        self.details = details


class ValidationError(CallError):
    """A payload does not match its schema table; ``code`` is the CALLERROR code."""





def validate(obj, schema, _path=""):
    """Check ``obj`` against a schema table; raise ValidationError at the first problem."""
    if type(obj) is not dict:
        raise ValidationError(FORMATION_VIOLATION, "%s: not an object" % (_path or "payload"))
    for name in obj:
        if name not in schema:
            raise ValidationError(FORMATION_VIOLATION, "unknown property %s%s" % (_path, name))
    for name in schema:
        spec = schema[name]
        if name in obj:
            _check(obj[name], spec, _path + name)
        elif spec[0][-1] == "!":
            raise ValidationError(PROTOCOL_ERROR, "missing %s%s" % (_path, name))


def _check(v, spec, path):
    t = spec[0][0]
    arg = spec[1] if len(spec) > 1 else None
    tv = type(v)
    if t == "s" or t == "e" or t == "t":
        if tv is not str:
            _bad_type(path, "string")
        if t == "s":
            if arg is not None and len(v) > arg:
                raise ValidationError(TYPE_CONSTRAINT_VIOLATION,
                                      "%s longer than %d" % (path, arg))
        elif t == "e":
            if v not in arg:
                raise ValidationError(PROPERTY_CONSTRAINT_VIOLATION,
                                      "%s: %s not allowed" % (path, v[:40]))
        elif not is_datetime(v):
            raise ValidationError(TYPE_CONSTRAINT_VIOLATION, "%s: not a date-time" % path)
    elif t == "i" or t == "n":
        if not (tv is int or (t == "n" and tv is float)):
            _bad_type(path, "integer" if t == "i" else "number")
        if arg is not None and v < arg:
            raise ValidationError(PROPERTY_CONSTRAINT_VIOLATION,
                                  "%s below %s" % (path, arg))
    elif t == "b":
        if tv is not bool:
            _bad_type(path, "boolean")
    elif t == "o":
        if tv is not dict:
            _bad_type(path, "object")
        validate(v, arg, path + ".")
    elif t == "a":
        if tv is not list:
            _bad_type(path, "array")
        if len(spec) > 2 and len(v) < spec[2]:
            raise ValidationError(OCCURENCE_CONSTRAINT_VIOLATION,
                                  "%s: fewer than %d items" % (path, spec[2]))
        for i in range(len(v)):
            _check(v[i], arg, "%s[%d]" % (path, i))
    elif t != "*":
        raise ValueError("bad schema type %s" % t)


def _bad_type(path, want):
    raise ValidationError(TYPE_CONSTRAINT_VIOLATION, "%s: not a%s %s"
                          % (path, "n" if want[0] in "aeio" else "", want))


def _digits(s, a, b):
    for i in range(a, b):
        if not "0" <= s[i] <= "9":
            return False
    return True


def is_datetime(s):
    """RFC 3339 shape: YYYY-MM-DDTHH:MM:SS[.frac][Z|+hh:mm|-hh:mm] (zone optional)."""
    n = len(s)
    if n < 19 or s[4] != "-" or s[7] != "-" or s[10] not in "Tt " or s[13] != ":" \
            or s[16] != ":" or not (_digits(s, 0, 4) and _digits(s, 5, 7) and _digits(s, 8, 10)
                                    and _digits(s, 11, 13) and _digits(s, 14, 16)
                                    and _digits(s, 17, 19)):
        return False
    i = 19
    if i < n and s[i] == ".":
        j = i + 1
        while j < n and "0" <= s[j] <= "9":
            j += 1
        if j == i + 1:
            return False
        i = j
    if i == n:
        return True
    if s[i] in "Zz":
        return i + 1 == n
    return s[i] in "+-" and n == i + 6 and _digits(s, i + 1, i + 3) and s[i + 3] == ":" \
        and _digits(s, i + 4, i + 6)
