"""China Telecom CTWing/AEP push envelopes (HTTP push or an MQTT relay) from NB-IoT detectors."""

from __future__ import annotations

from typing import Any

from device_drivers.identity import imei_key
from device_drivers.json_payload import device_time, epoch_seconds, parse_object
from device_drivers.model import (
    Availability,
    DecodeError,
    DeviceStatus,
    EventKind,
    Message,
)
from device_drivers.profiles.nbiot_fields import decode_vendor_fields
from device_drivers.unmapped import Unmapped

DATA_TYPES = frozenset({"dataReport", "eventReport"})
# envelope bookkeeping (ids, times, routing, message type): consumed; any other envelope field is reported
ENVELOPE_KEYS = frozenset({"deviceId", "IMEI", "imei", "IMSI", "productId", "timestamp", "messageType", "protocol",
                           "payload", "tenantId", "serviceId", "upPacketSN", "upDataSN", "topic", "assocAssetId",
                           "deviceType", "eventType", "eventSN", "deviceSn", "serviceType"})
PAYLOAD_KEYS = frozenset({"serviceData", "serviceId", "serviceType", "eventType"})
# platform notifications that carry nothing the hub acts on
IGNORED_TYPES = frozenset({"commandResponse", "deviceAdded", "deviceDeleted", "deviceInfoChangeReport",
                           "dataReportTupUnion"})


class CtwingProfile:
    """Decode CTWing `dataReport`/`eventReport`/`deviceOnlineOfflineReport` envelopes."""

    name = "ctwing"

    def __init__(self, root: str = "ctwing", product_hazards: dict[str, EventKind] | None = None) -> None:
        self.root = root
        self.prefix = root + "/"
        self.subscriptions = (f"{root}/#",)
        # productId -> hazard kind for Alarm_Status 1/7 (gas detectors share the smoke vendor's codes)
        self.product_hazards = product_hazards or {}

    def matches(self, topic: str) -> bool:
        """Return True for topics under the CTWing relay root."""
        return topic.startswith(self.prefix)

    def decode(self, topic: str, payload: bytes, *, received_at: float) -> list[Message]:
        """Decode one CTWing envelope relayed over MQTT."""
        return self.decode_envelope(parse_object(payload), received_at=received_at)

    def decode_envelope(self, env: dict[str, Any], *, received_at: float) -> list[Message]:
        """Decode one parsed CTWing push envelope into canonical messages."""
        mtype = env.get("messageType")
        if type(mtype) is not str:
            raise DecodeError("missing_field", "messageType")
        if mtype in IGNORED_TYPES:
            return []
        ts = received_at
        if env.get("timestamp") is not None:
            ts = device_time(epoch_seconds(env["timestamp"], "timestamp"), received_at)
        body: Any = env.get("payload")  # any JSON value: only a dict carries service data
        service_data: dict[str, Any] | None = None
        if type(body) is dict:
            service_data = body.get("serviceData", body)
            if type(service_data) is not dict:
                raise DecodeError("bad_type", "serviceData")
        key = imei_key(env.get("IMEI")) or (imei_key(service_data.get("IMEI")) if service_data else None)
        if key is None:
            device_id = env.get("deviceId")
            if type(device_id) is not str or not 0 < len(device_id) <= 64:
                raise DecodeError("missing_field", "IMEI/deviceId")
            key = "ctwing:" + device_id
        unmapped = Unmapped()
        unmapped.extra(env, ENVELOPE_KEYS)
        if mtype == "deviceOnlineOfflineReport":
            event_type = env.get("eventType")
            if event_type not in (0, 1):
                raise DecodeError("bad_value", "eventType")
            avail = Availability.ONLINE if event_type == 1 else Availability.OFFLINE
            return [DeviceStatus(key, avail, ts, self.name, "platform"), *unmapped.message(key, ts, self.name)]
        if mtype not in DATA_TYPES:
            raise DecodeError("unsupported_message", mtype[:40])
        if service_data is None:
            raise DecodeError("missing_field", "payload")
        if "APPdata" in service_data:
            # transparent binary: only a vendor-specific decoder could read it (docs/profiles.md)
            raise DecodeError("opaque_payload", str(env.get("productId", ""))[:40])
        if service_data is not body:
            unmapped.extra(body, PAYLOAD_KEYS, "payload.")
        hazard = self.product_hazards.get(str(env.get("productId", "")), EventKind.SMOKE)
        out = decode_vendor_fields(key, service_data, ts=ts, source=self.name, hazard=hazard, unmapped=unmapped)
        out.extend(unmapped.message(key, ts, self.name))
        return out
