"""OCPP 1.6 configuration keys (Core, LocalAuthListManagement, Reservation,
SmartCharging, FirmwareManagement; AuthorizationKey of the security extension), kept in a
``kv.Store``, with GetConfiguration and ChangeConfiguration semantics.

A key is ``(name, kind, flags, default)`` (see ``keys()``); kinds: ``i`` integer >= 0, ``b`` boolean,
``c`` comma-separated list whose items must be in the key's member set, ``s`` string.
Flags: read-only, reboot required (a change is persisted but takes effect at the next
boot: ChangeConfiguration answers RebootRequired), write-only (a secret, never reported).
"""
from micropython import const

from lib import log
from firmware.storage.kv import Store

_TAG = "ocpp.cfg"

_RO = const(1)
_REBOOT = const(2)
_SECRET = const(4)
_MAX_VALUE = const(500)

# Measurands this charge point's meter interface can report.
MEASURANDS = ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
              "Voltage", "Current.Offered")
_ROTATIONS = ("NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR")
_PROFILES = ("Core", "FirmwareManagement", "LocalAuthListManagement", "Reservation",
             "SmartCharging", "RemoteTrigger")
# One line per key: name, kind, flags (r read-only, b reboot required, w write-only
# secret, - none), default. One string constant costs far less RAM than a table of
# tuples (every name would be an interned string).
_TABLE = """\
AllowOfflineTxForUnknownId b - false
AuthorizationCacheEnabled b - true
AuthorizeRemoteTxRequests b - true
BlinkRepeat i - 3
ClockAlignedDataInterval i - 0
ConnectionTimeOut i - 60
ConnectorPhaseRotation c - 1.RST
ConnectorPhaseRotationMaxLength i r 2
GetConfigurationMaxKeys i r 64
HeartbeatInterval i - 300
LightIntensity i - 100
LocalAuthorizeOffline b - true
LocalPreAuthorize b - false
MaxEnergyOnInvalidId i - 0
MeterValuesAlignedData c - Energy.Active.Import.Register
MeterValuesAlignedDataMaxLength i r 5
MeterValuesSampledData c - Energy.Active.Import.Register,Power.Active.Import,Current.Import
MeterValuesSampledDataMaxLength i r 5
MeterValueSampleInterval i - 60
MinimumStatusDuration i - 0
NumberOfConnectors i r 1
ResetRetries i - 1
StopTransactionOnEVSideDisconnect b r true
StopTransactionOnInvalidId b - true
StopTxnAlignedData c -
StopTxnAlignedDataMaxLength i r 5
StopTxnSampledData c -
StopTxnSampledDataMaxLength i r 5
SupportedFeatureProfiles c r Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger
SupportedFeatureProfilesMaxLength i r 6
TransactionMessageAttempts i - 3
TransactionMessageRetryInterval i - 60
UnlockConnectorOnEVSideDisconnect b r true
WebSocketPingInterval i - 60
LocalAuthListEnabled b - true
LocalAuthListMaxLength i r 1000
SendLocalListMaxLength i r 40
ReserveConnectorZeroSupported b r false
ChargeProfileMaxStackLevel i r 8
ChargingScheduleAllowedChargingRateUnit c r Current,Power
ChargingScheduleMaxPeriods i r 24
ConnectorSwitch3to1PhaseSupported b r false
MaxChargingProfilesInstalled i r 8
SupportedFileTransferProtocols c r HTTP,HTTPS
AuthorizationKey s bw
"""
# Sections of the table: Core (OCPP 1.6 section 9.1) up to WebSocketPingInterval, then
# LocalAuthListManagement (9.2), Reservation (9.3), SmartCharging (9.4),
# FirmwareManagement (9.5), and AuthorizationKey of the security extension (the
# Basic-auth password: used from the next boot on, so a change never cuts the link it
# arrived on).
# StopTransactionOnEVSideDisconnect and UnlockConnectorOnEVSideDisconnect are read-only
# true: the charger cannot tell an unplug at the vehicle from one at the socket, ends the
# session at either, and unlocks once the vehicle is gone (false would let another
# vehicle charge within the same transaction).

# Keys whose lists are checked against a member set, and the key holding the max length.
_LISTS = {
    "MeterValuesAlignedData": (MEASURANDS, "MeterValuesAlignedDataMaxLength"),
    "MeterValuesSampledData": (MEASURANDS, "MeterValuesSampledDataMaxLength"),
    "StopTxnAlignedData": (MEASURANDS, "StopTxnAlignedDataMaxLength"),
    "StopTxnSampledData": (MEASURANDS, "StopTxnSampledDataMaxLength"),
    "ConnectorPhaseRotation": (None, "ConnectorPhaseRotationMaxLength"),
    "SupportedFeatureProfiles": (_PROFILES, "SupportedFeatureProfilesMaxLength"),
}


def keys():
    """Yield ``(name, kind, flags, default)`` for every key, in the table's order."""
    i = 0
    t = _TABLE
    while i < len(t):
        j = t.index("\n", i)
        f = t[i:j].split(" ", 3)
        i = j + 1
        flags = (_RO if "r" in f[2] else 0) | (_REBOOT if "b" in f[2] else 0) \
            | (_SECRET if "w" in f[2] else 0)
        d = f[3] if len(f) > 3 else ""
        kind = f[1]
        yield f[0], kind, flags, (int(d) if kind == "i" else (d == "true" if kind == "b" else d))


ACCEPTED = "Accepted"
REJECTED = "Rejected"
REBOOT_REQUIRED = "RebootRequired"
NOT_SUPPORTED = "NotSupported"


def _find(name):
    for k in keys():
        if k[0] == name:
            return k
    return None


def to_text(kind, v):
    if kind == "b":
        return "true" if v else "false"
    return str(v)


class Config:
    """The configuration of one charge point, persisted at ``path``.

    ``get(name)`` returns the active, typed value. ``overrides`` replaces defaults (also
    of read-only keys: what the hardware has, e.g. NumberOfConnectors). ``on_change(name)``
    is called after a key took effect.
    """

    def __init__(self, path, overrides=None):
        self._store = Store(path, 4096)
        self._saved = self._store.load({})
        self._v = {}
        self.on_change = None
        for name, kind, flags, default in keys():
            if overrides and name in overrides:
                default = overrides[name]
            v = self._saved.get(name)
            self._v[name] = default if flags & _RO or v is None or self._check(name, kind, v) \
                else v

    def get(self, name):
        return self._v[name]

    def items(self, names=None):
        """(name, value text or None for a secret, read-only) for ``names`` (all if None)
        that exist, and the list of names that do not."""
        out = []
        unknown = []
        for name in (names if names else [k[0] for k in keys()]):
            k = _find(name)
            if k is None:
                unknown.append(name)
            else:
                v = None if k[2] & _SECRET else to_text(k[1], self._v[name])
                out.append((name, v, bool(k[2] & _RO)))
        return out, unknown

    def change(self, name, text):
        """ChangeConfiguration: Accepted, Rejected, RebootRequired or NotSupported."""
        k = _find(name)
        if k is None:
            return NOT_SUPPORTED
        kind, flags = k[1], k[2]
        if flags & _RO:
            return REJECTED
        v = self._parse(kind, text)
        if v is None or self._check(name, kind, v):
            return REJECTED
        self._saved[name] = v
        try:
            self._store.save(self._saved)
        except (OSError, ValueError) as e:
            log.error(_TAG, "cannot save %s: %s", name, e)
            return REJECTED
        if flags & _REBOOT:
            return REBOOT_REQUIRED
        self._apply(name, v)
        return ACCEPTED

    def set(self, name, v):
        """Set a key from the firmware itself (e.g. the interval a BootNotification gave)."""
        if self._v.get(name) == v:
            return
        self._saved[name] = v
        self._store.save(self._saved)
        self._apply(name, v)

    def _apply(self, name, v):
        self._v[name] = v
        log.info(_TAG, "%s = %s", name, v)
        if self.on_change is not None:
            self.on_change(name)

    @staticmethod
    def _parse(kind, text):
        if kind == "i":
            t = text.strip()
            if not t or len(t) > 9 or not all("0" <= c <= "9" for c in t):
                return None
            return int(t)
        if kind == "b":
            t = text.strip().lower()
            return True if t == "true" else (False if t == "false" else None)
        if len(text) > _MAX_VALUE:
            return None
        if kind == "c":
            return ",".join(x.strip() for x in text.split(",") if x.strip())
        return text

    def _check(self, name, kind, v):
        """An error text if ``v`` is no valid value of the key, else None."""
        if kind == "i":
            return None if type(v) is int and v >= 0 else "not an integer >= 0"
        if kind == "b":
            return None if type(v) is bool else "not a boolean"
        if type(v) is not str:
            return "not a string"
        rule = _LISTS.get(name)
        if kind != "c" or rule is None:
            return None
        items = v.split(",") if v else []
        if len(items) > self._v.get(rule[1], 99):
            return "too many items"
        for x in items:
            if rule[0] is None:  # phase rotation: <connector>.<rotation>
                d = x.find(".")
                if d < 1 or not x[:d].isdigit() or x[d + 1:] not in _ROTATIONS:
                    return "bad item %s" % x
            elif x not in rule[0]:
                return "unsupported item %s" % x
        return None

    def state(self, name, default=None):
        """A persisted value that is no configuration key (e.g. the availability)."""
        return self._saved.get("_" + name, default)

    def set_state(self, name, v):
        self._saved["_" + name] = v
        self._store.save(self._saved)

    def csl(self, name):
        """The items of a comma-separated list key."""
        v = self._v[name]
        return v.split(",") if v else []
