"""China Mobile OneNET: OneJSON property/event posts over MQTT and the HTTP data push envelope."""

from __future__ import annotations

from typing import Any, TypeGuard

from device_drivers.json_payload import device_time, epoch_seconds, parse_json, parse_object
from device_drivers.model import (
    Availability,
    DecodeError,
    DeviceStatus,
    EventKind,
    Message,
)
from device_drivers.profiles.nbiot_fields import decode_vendor_fields
from device_drivers.unmapped import Unmapped

POST_SUFFIXES = ("/thing/property/post", "/thing/event/post")
ONEJSON_KEYS = frozenset({"id", "version", "params", "sys", "method"})  # bookkeeping around `params`
PARAM_KEYS = frozenset({"value", "time"})
PUSH_KEYS = frozenset({"msg", "signature", "nonce", "id", "time", "enc_msg"})
MSG_KEYS = frozenset({"productId", "deviceName", "messageType", "notifyType", "data", "timestamp", "id",
                      "deviceId", "pid", "subData"})


def _segment_ok(value: Any) -> TypeGuard[str]:
    return type(value) is str and 0 < len(value) <= 64 and "/" not in value


class OneNetProfile:
    """Decode `$sys/{pid}/{device-name}/thing/property/post` (and event/post) OneJSON messages."""

    name = "onenet"

    def __init__(self, root: str = "$sys", product_hazards: dict[str, EventKind] | None = None) -> None:
        self.root = root
        self.prefix = root + "/"
        self.subscriptions = (f"{root}/+/+/thing/property/post", f"{root}/+/+/thing/event/post")
        self.product_hazards = product_hazards or {}

    def matches(self, topic: str) -> bool:
        """Return True for topics under the OneNET root."""
        return topic.startswith(self.prefix)

    def decode(self, topic: str, payload: bytes, *, received_at: float) -> list[Message]:
        """Decode one OneJSON post into canonical messages."""
        parts = topic[len(self.prefix):].split("/", 2)
        if len(parts) != 3 or "/" + parts[2] not in POST_SUFFIXES:
            if len(parts) == 3 and parts[2].startswith("thing/"):
                return []  # replies, gets and sets: platform chatter, not device reports
            raise DecodeError("unknown_topic", topic[:120])
        pid, device_name, _ = parts
        if not pid or not device_name:
            raise DecodeError("unknown_topic", topic[:120])
        return self.decode_onejson(pid, device_name, parse_object(payload), received_at=received_at)

    def decode_onejson(self, pid: str, device_name: str, obj: dict[str, Any], *,
                       received_at: float, unmapped: Unmapped | None = None) -> list[Message]:
        """Decode a OneJSON `{"id","version","params":{prop:{"value","time"}}}` body for one device."""
        unmapped = unmapped if unmapped is not None else Unmapped()
        unmapped.extra(obj, ONEJSON_KEYS)
        params = obj.get("params")
        if type(params) is not dict:
            raise DecodeError("missing_field" if params is None else "bad_type", "params")
        fields: dict[str, Any] = {}
        times: dict[str, float] = {}
        for prop, item in params.items():
            if type(item) is not dict:
                raise DecodeError("bad_type", f"params.{prop[:40]}")
            unmapped.extra(item, PARAM_KEYS, prop + ".")
            value = item.get("value")
            if type(value) is dict:  # an event's output parameters: flatten them as fields
                for sub, sub_value in value.items():
                    if sub_value is None and sub in fields:
                        continue  # a null output parameter must not blank a property of the same name
                    fields[sub] = sub_value
                    if item.get("time") is not None:
                        times[sub] = device_time(epoch_seconds(item["time"], "time"), received_at)
                continue
            if value is not None or prop not in fields:
                fields[prop] = value
            if item.get("time") is not None:
                times[prop] = device_time(epoch_seconds(item["time"], "time"), received_at)
        key = f"onenet:{pid}/{device_name}"
        hazard = self.product_hazards.get(pid, EventKind.SMOKE)
        out = decode_vendor_fields(key, fields, ts=received_at, source=self.name, hazard=hazard,
                                   times=times, unmapped=unmapped)
        out.extend(unmapped.message(key, received_at, self.name))
        return out

    def decode_push(self, env: dict[str, Any], *, received_at: float) -> list[Message]:
        """Decode a OneNET Studio HTTP push body (`{"msg": ..., "signature": ..., "nonce": ...}`)."""
        msg = env.get("msg")
        if type(msg) is str:
            msg = parse_json(msg)
        if type(msg) is not dict:
            raise DecodeError("missing_field" if msg is None else "bad_type", "msg")
        pid, device_name = msg.get("productId"), msg.get("deviceName")
        if not _segment_ok(pid) or not _segment_ok(device_name):
            raise DecodeError("missing_field", "productId/deviceName")
        mtype = msg.get("messageType")
        unmapped = Unmapped()
        unmapped.extra(env, PUSH_KEYS)
        unmapped.extra(msg, MSG_KEYS, "msg.")
        if mtype == "notify":
            data = msg.get("data")
            if type(data) is not dict:
                raise DecodeError("bad_type", "data")
            return self.decode_onejson(pid, device_name, data, received_at=received_at, unmapped=unmapped)
        if mtype == "lifeCycle":
            data = msg.get("data")
            status = data.get("status") if type(data) is dict else None
            if status in (1, "online"):
                avail = Availability.ONLINE
            elif status in (0, 2, "offline"):
                avail = Availability.OFFLINE
            else:
                raise DecodeError("bad_value", "data.status")
            ts = received_at
            if msg.get("timestamp") is not None:
                ts = device_time(epoch_seconds(msg["timestamp"], "timestamp"), received_at)
            key = f"onenet:{pid}/{device_name}"
            return [DeviceStatus(key, avail, ts, self.name, "platform"), *unmapped.message(key, ts, self.name)]
        raise DecodeError("unsupported_message", str(mtype)[:40])

