"""OCPP 1.6 configuration keys (Core, LocalAuthListManagement, Reservation,
SmartCharging, FirmwareManagement; AuthorizationKey of the security extension), kept in a
``kv.Store``, with GetConfiguration and ChangeConfiguration semantics.

A key is ``(name, kind, flags, default)``; kinds: ``i`` integer >= 0, ``b`` boolean,
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
_MV = "Energy.Active.Import.Register,Power.Active.Import,Current.Import"

KEYS = (
    # Core (OCPP 1.6 section 9.1)
    ("AllowOfflineTxForUnknownId", "b", 0, False),
    ("AuthorizationCacheEnabled", "b", 0, True),
    ("AuthorizeRemoteTxRequests", "b", 0, True),
    ("BlinkRepeat", "i", 0, 3),
    ("ClockAlignedDataInterval", "i", 0, 0),
    ("ConnectionTimeOut", "i", 0, 60),
    ("ConnectorPhaseRotation", "c", 0, "1.RST"),
    ("ConnectorPhaseRotationMaxLength", "i", _RO, 2),
    ("GetConfigurationMaxKeys", "i", _RO, 64),
    ("HeartbeatInterval", "i", 0, 300),
    ("LightIntensity", "i", 0, 100),
    ("LocalAuthorizeOffline", "b", 0, True),
    ("LocalPreAuthorize", "b", 0, False),
    ("MaxEnergyOnInvalidId", "i", 0, 0),
    ("MeterValuesAlignedData", "c", 0, "Energy.Active.Import.Register"),
    ("MeterValuesAlignedDataMaxLength", "i", _RO, 5),
    ("MeterValuesSampledData", "c", 0, _MV),
    ("MeterValuesSampledDataMaxLength", "i", _RO, 5),
    ("MeterValueSampleInterval", "i", 0, 60),
    ("MinimumStatusDuration", "i", 0, 0),
    ("NumberOfConnectors", "i", _RO, 1),
    ("ResetRetries", "i", 0, 1),
    ("StopTransactionOnEVSideDisconnect", "b", 0, True),
    ("StopTransactionOnInvalidId", "b", 0, True),
    ("StopTxnAlignedData", "c", 0, ""),
    ("StopTxnAlignedDataMaxLength", "i", _RO, 5),
    ("StopTxnSampledData", "c", 0, ""),
    ("StopTxnSampledDataMaxLength", "i", _RO, 5),
    ("SupportedFeatureProfiles", "c", _RO, "Core,RemoteTrigger"),
    ("SupportedFeatureProfilesMaxLength", "i", _RO, 6),
    ("TransactionMessageAttempts", "i", 0, 3),
    ("TransactionMessageRetryInterval", "i", 0, 60),
    ("UnlockConnectorOnEVSideDisconnect", "b", 0, True),
    ("WebSocketPingInterval", "i", 0, 60),
    # LocalAuthListManagement (9.2)
    ("LocalAuthListEnabled", "b", 0, True),
    ("LocalAuthListMaxLength", "i", _RO, 1000),
    ("SendLocalListMaxLength", "i", _RO, 100),
    # Reservation (9.3)
    ("ReserveConnectorZeroSupported", "b", _RO, False),
    # SmartCharging (9.4)
    ("ChargeProfileMaxStackLevel", "i", _RO, 8),
    ("ChargingScheduleAllowedChargingRateUnit", "c", _RO, "Current,Power"),
    ("ChargingScheduleMaxPeriods", "i", _RO, 24),
    ("ConnectorSwitch3to1PhaseSupported", "b", _RO, False),
    ("MaxChargingProfilesInstalled", "i", _RO, 8),
    # FirmwareManagement (9.5)
    ("SupportedFileTransferProtocols", "c", _RO, "HTTP,HTTPS"),
    # Security extension: the Basic-auth password; the connection uses it from the next
    # boot on, so a change never cuts the link it arrived on.
    ("AuthorizationKey", "s", _REBOOT | _SECRET, ""),
)

# Keys whose lists are checked against a member set, and the key holding the max length.
_LISTS = {
    "MeterValuesAlignedData": (MEASURANDS, "MeterValuesAlignedDataMaxLength"),
    "MeterValuesSampledData": (MEASURANDS, "MeterValuesSampledDataMaxLength"),
    "StopTxnAlignedData": (MEASURANDS, "StopTxnAlignedDataMaxLength"),
    "StopTxnSampledData": (MEASURANDS, "StopTxnSampledDataMaxLength"),
    "ConnectorPhaseRotation": (None, "ConnectorPhaseRotationMaxLength"),
    "SupportedFeatureProfiles": (_PROFILES, "SupportedFeatureProfilesMaxLength"),
}

ACCEPTED = "Accepted"
REJECTED = "Rejected"
REBOOT_REQUIRED = "RebootRequired"
NOT_SUPPORTED = "NotSupported"


def _find(name):
    for k in KEYS:
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
        for name, kind, flags, default in KEYS:
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
        for name in (names if names else [k[0] for k in KEYS]):
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
