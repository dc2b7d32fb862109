"""OCPP configuration keys: types, read-only, reboot-required, validation, persistence,
and the GetConfiguration/ChangeConfiguration answers."""
import tools  # noqa: F401
from firmware.ocpp import config
from firmware.ocpp.config import Config
from tests.common.test_storage_support import Sandbox

CORE = ("AllowOfflineTxForUnknownId AuthorizationCacheEnabled AuthorizeRemoteTxRequests"
        " BlinkRepeat ClockAlignedDataInterval ConnectionTimeOut ConnectorPhaseRotation"
        " ConnectorPhaseRotationMaxLength GetConfigurationMaxKeys HeartbeatInterval"
        " LightIntensity LocalAuthorizeOffline LocalPreAuthorize MaxEnergyOnInvalidId"
        " MeterValuesAlignedData MeterValuesAlignedDataMaxLength MeterValuesSampledData"
        " MeterValuesSampledDataMaxLength MeterValueSampleInterval MinimumStatusDuration"
        " NumberOfConnectors ResetRetries StopTransactionOnEVSideDisconnect"
        " StopTransactionOnInvalidId StopTxnAlignedData StopTxnAlignedDataMaxLength"
        " StopTxnSampledData StopTxnSampledDataMaxLength SupportedFeatureProfiles"
        " SupportedFeatureProfilesMaxLength TransactionMessageAttempts"
        " TransactionMessageRetryInterval UnlockConnectorOnEVSideDisconnect"
        " WebSocketPingInterval LocalAuthListEnabled LocalAuthListMaxLength"
        " SendLocalListMaxLength ReserveConnectorZeroSupported ChargeProfileMaxStackLevel"
        " ChargingScheduleAllowedChargingRateUnit ChargingScheduleMaxPeriods"
        " ConnectorSwitch3to1PhaseSupported MaxChargingProfilesInstalled"
        " SupportedFileTransferProtocols AuthorizationKey").split()


def test_every_standard_key_is_there_with_a_valid_default():
    names = [k[0] for k in config.keys()]
    assert names == CORE
    with Sandbox("ocppcfg") as sb:
        c = Config(sb.path("c.json"))
        known, unknown = c.items(None)
        assert unknown == [] and len(known) == len(CORE)
        for name, kind, flags, default in config.keys():
            assert c.get(name) == default
            assert c._check(name, kind, default) is None, name


def test_change_answers_and_typed_values():
    with Sandbox("ocppcfg") as sb:
        c = Config(sb.path("c.json"))
        seen = []
        c.on_change = seen.append
        assert c.change("HeartbeatInterval", "30") == "Accepted"
        assert c.get("HeartbeatInterval") == 30 and seen == ["HeartbeatInterval"]
        assert c.change("LocalPreAuthorize", "TRUE") == "Accepted" and c.get("LocalPreAuthorize") is True
        for key, value in (("HeartbeatInterval", "-1"), ("HeartbeatInterval", "ten"),
                           ("HeartbeatInterval", ""), ("LocalPreAuthorize", "yes"),
                           ("MeterValuesSampledData", "Energy.Active.Import.Register,SoC"),
                           ("MeterValuesSampledData", ",".join(["Voltage"] * 6)),
                           ("ConnectorPhaseRotation", "1.XYZ"),
                           ("NumberOfConnectors", "2"), ("SupportedFeatureProfiles", "Core")):
            assert c.change(key, value) == "Rejected", (key, value)
        assert c.change("NoSuchKey", "1") == "NotSupported"
        assert c.change("MeterValuesSampledData", " Voltage , Current.Offered ") == "Accepted"
        assert c.csl("MeterValuesSampledData") == ["Voltage", "Current.Offered"]
        assert c.change("ConnectorPhaseRotation", "0.NotApplicable,1.RST") == "Accepted"
        assert c.change("StopTxnSampledData", "") == "Accepted" and c.csl("StopTxnSampledData") == []
        assert c.get("NumberOfConnectors") == 1


def test_reboot_required_key_takes_effect_at_the_next_boot_and_is_never_reported():
    with Sandbox("ocppcfg") as sb:
        c = Config(sb.path("c.json"))
        assert c.change("AuthorizationKey", "0123456789abcdef") == "RebootRequired"
        assert c.get("AuthorizationKey") == ""
        known, _ = c.items(["AuthorizationKey"])
        assert known == [("AuthorizationKey", None, False)]
        assert Config(sb.path("c.json")).get("AuthorizationKey") == "0123456789abcdef"


def test_persisted_across_reboots_and_bad_saved_values_ignored():
    with Sandbox("ocppcfg") as sb:
        c = Config(sb.path("c.json"), {"NumberOfConnectors": 2})
        assert c.get("NumberOfConnectors") == 2
        c.change("MeterValueSampleInterval", "15")
        c.set("HeartbeatInterval", 77)
        c.set_state("available", False)
        c._saved["BlinkRepeat"] = "lots"  # a damaged value on disk
        c._saved["NumberOfConnectors"] = 9  # read-only keys never come from the file
        c._store.save(c._saved)
        c2 = Config(sb.path("c.json"))
        assert c2.get("MeterValueSampleInterval") == 15 and c2.get("HeartbeatInterval") == 77
        assert c2.state("available", True) is False
        assert c2.get("BlinkRepeat") == 3 and c2.get("NumberOfConnectors") == 1


def test_items_report_text_values_and_unknown_keys():
    with Sandbox("ocppcfg") as sb:
        c = Config(sb.path("c.json"))
        known, unknown = c.items(["HeartbeatInterval", "LocalPreAuthorize", "Nope",
                                  "NumberOfConnectors"])
        assert known == [("HeartbeatInterval", "300", False), ("LocalPreAuthorize", "false", False),
                         ("NumberOfConnectors", "1", True)]
        assert unknown == ["Nope"]
