"""End to end over real TCP sockets: SIA DC-09 transmitters talk to real hub processes.

One hub takes plain frames from listed accounts, one only AES-encrypted frames. Each valid alarm must
be ACKed only once it is recorded in device_events, and must raise an alert; a corrupted frame and a
stale one are NAKed, an unknown account and a plain frame where encryption is required get DUH, and
none of them records anything.
"""

from __future__ import annotations

import json
import socket
import time
import uuid

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from device_drivers import sia_dc09
from tests.hub_process import HubProcess, wait_for
from tests.servers import free_port

ACCOUNT = "1234"
KEY_HEX = "8AF1C0DE2B4E6A9D3C5F7E1B2D4A6C8E"  # AES-128
DEVICES_CSV = "\n".join([
    "site,room,kind,vendor,model,cid_account,cid_zone,name",
    f"IP Home,201,sos_button,Generic,Pendant,{ACCOUNT},007,Pendant zone 7",
    f"IP Home,201,smoke_detector,Generic,Smoke,{ACCOUNT},003,Kitchen smoke",
]) + "\n"




def _hub(mosquitto, workdir, **env) -> HubProcess:
    hub = HubProcess(workdir, mqtt_port=mosquitto.port, client_id=f"hub-dc09-{uuid.uuid4().hex[:8]}",
                     extra_env={"CAREHUB_DC09_HOST": "127.0.0.1", "CAREHUB_DC09_PORT": str(free_port()), **env})
    hub.import_devices(DEVICES_CSV)
    hub.start()
    return hub


@pytest.fixture(scope="module")
def plain_hub(mosquitto, tmp_path_factory):
    hub = _hub(mosquitto, tmp_path_factory.mktemp("dc09-plain"),
               CAREHUB_DC09_ACCOUNTS=json.dumps([ACCOUNT, "5678"]))
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def aes_hub(mosquitto, tmp_path_factory):
    hub = _hub(mosquitto, tmp_path_factory.mktemp("dc09-aes"), CAREHUB_DC09_AES_KEY=KEY_HEX)
    yield hub
    hub.stop()


class Transmitter:
    """A DC-09 transmitter on one TCP connection: send a frame, read the one answer."""

    def __init__(self, hub: HubProcess) -> None:
        self.sock = socket.create_connection(("127.0.0.1", int(hub.env["CAREHUB_DC09_PORT"])), timeout=10)

    def send(self, frame: bytes) -> bytes:
        self.sock.sendall(frame)
        answer = b""
        while not answer.endswith(b"\r"):
            chunk = self.sock.recv(1024)
            assert chunk, "receiver closed the connection"
            answer += chunk
        body = answer[9:-1]
        assert answer[:1] == b"\n" and answer[1:9] == b"%04X%04X" % (sia_dc09.crc16_arc(body), len(body))
        return body

    def close(self) -> None:
        self.sock.close()


def _events(hub: HubProcess, key: str) -> list[dict]:
    return hub.api.get("/api/events", params={"device_key": key, "limit": 500}, timeout=5).json()


def _alert(hub: HubProcess, type_: str, key: str) -> dict:
    found = wait_for(lambda: [a for a in hub.api.get("/api/alerts", timeout=5).json()
                               if a["type"] == type_ and a["device_key"] == key], 5, f"{type_} alert for {key}")
    return found[0]


def _stats(hub: HubProcess) -> dict:
    return httpx.get(f"{hub.url}/healthz", timeout=5).json()["dc09"]


def test_plain_adm_cid_and_sia_dcs_are_acked_recorded_and_alerted(plain_hub):
    hub = plain_hub
    devices = {d["name"]: d["id"] for d in hub.api.get("/api/devices", timeout=5).json()}
    tx = Transmitter(hub)
    try:
        # ADM-CID 101 personal emergency on zone 007: the ACK comes only once the alarm is recorded.
        frame = sia_dc09.build_frame("ADM-CID", "0001", ACCOUNT, "1101 01 007", receiver="1", line="2",
                                     timestamp=time.time())
        answer = tx.send(frame)
        assert answer.startswith(b'"ACK"0001R1L2#1234[]'), answer
        [sos] = [e for e in _events(hub, f"cid:{ACCOUNT}:007") if e["source"] == "sia_dc09"]
        assert sos["is_alarm"] and sos["kind"] == "sos" and sos["detail"]["event_code"] == "101"
        assert sos["device_id"] == devices["Pendant zone 7"], "DC-09 keys the zone as serial Contact ID does"
        assert _alert(hub, "sos", f"cid:{ACCOUNT}:007")["priority"] == 1

        # SIA-DCS fire alarm on zone 03 of area 1.
        answer = tx.send(sia_dc09.build_frame("SIA-DCS", "0002", ACCOUNT, "Nri1/FA03", timestamp=time.time()))
        assert answer.startswith(b'"ACK"0002L0#1234[]'), answer
        [fire] = _events(hub, f"cid:{ACCOUNT}:003")
        assert (fire["kind"], fire["state"], fire["is_alarm"]) == ("smoke", "active", True)
        assert fire["device_id"] == devices["Kitchen smoke"] and fire["detail"]["sia_code"] == "FA"
        _alert(hub, "fire_suspected", f"cid:{ACCOUNT}:003")

        # A link test is ACKed and records nothing.
        assert tx.send(sia_dc09.build_frame("NULL", "0003", ACCOUNT, "", timestamp=time.time())).startswith(
            b'"ACK"0003')

        # One flipped CRC digit: NAK with the receiver's time, nothing recorded.
        good = sia_dc09.build_frame("ADM-CID", "0004", ACCOUNT, "1100 01 007", timestamp=time.time())
        bad = good[:1] + (b"0" if good[1:2] != b"0" else b"1") + good[2:]
        answer = tx.send(bad)
        assert answer.startswith(b'"NAK"0000R0L0A0[]_'), answer

        # A frame an hour old: NAK (a replay, or a transmitter whose clock is off: it resyncs from the NAK).
        answer = tx.send(sia_dc09.build_frame("ADM-CID", "0005", ACCOUNT, "1100 01 007",
                                              timestamp=time.time() - 3600))
        assert answer.startswith(b'"NAK"0000R0L0A0[]_'), answer

        # An account this hub does not serve: DUH, nothing recorded.
        answer = tx.send(sia_dc09.build_frame("ADM-CID", "0006", "9999", "1100 01 007", timestamp=time.time()))
        assert answer == b'"DUH"0006L0#9999[]', answer
    finally:
        tx.close()
    time.sleep(0.5)  # give a wrongly recorded event the time to show up
    assert not [e for e in _events(hub, f"cid:{ACCOUNT}:007") if e["detail"].get("event_code") == "100"]
    assert _events(hub, "cid:9999:007") == []
    stats = _stats(hub)
    assert stats["frames_ok"] == 3 and stats["naks_by_reason"] == {"bad_crc": 1, "bad_timestamp": 1}, stats
    assert stats["duhs_by_reason"] == {"unknown_account": 1}, stats


def _decrypt(answer: bytes) -> str:
    data = answer[answer.index(b"[") + 1:]
    decryptor = Cipher(algorithms.AES(bytes.fromhex(KEY_HEX)), modes.CBC(bytes(16))).decryptor()
    return (decryptor.update(bytes.fromhex(data.decode())) + decryptor.finalize()).decode("ascii")


def test_encrypted_adm_cid_and_sia_dcs_are_acked_encrypted_recorded_and_alerted(aes_hub):
    hub = aes_hub
    key = sia_dc09.parse_key(KEY_HEX)
    tx = Transmitter(hub)
    try:
        frame = sia_dc09.build_frame("ADM-CID", "0101", "4321", "1120 01 005", key=key, timestamp=time.time())
        assert b"1120" not in frame
        answer = tx.send(frame)
        assert answer.startswith(b'"*ACK"0101L0#4321['), answer
        assert _decrypt(answer).endswith(time.strftime("%m-%d-%Y", time.gmtime()))  # "]_HH:MM:SS,MM-DD-YYYY"
        [panic] = _events(hub, "cid:4321:005")
        assert (panic["kind"], panic["detail"]["event_code"], panic["detail"]["encrypted"]) == ("sos", "120", True)
        _alert(hub, "sos", "cid:4321:005")

        answer = tx.send(sia_dc09.build_frame("SIA-DCS", "0102", "4321", "Nri1/GA02", key=key,
                                              timestamp=time.time()))
        assert answer.startswith(b'"*ACK"0102L0#4321['), answer
        [gas] = _events(hub, "cid:4321:002")
        assert (gas["kind"], gas["is_alarm"], gas["detail"]["sia_code"]) == ("gas", True, "GA")
        _alert(hub, "gas", "cid:4321:002")

        # With a key set, a plain frame is refused: DUH, nothing recorded.
        answer = tx.send(sia_dc09.build_frame("SIA-DCS", "0103", "4321", "Nri1/GA04", timestamp=time.time()))
        assert answer == b'"DUH"0103L0#4321[]', answer
    finally:
        tx.close()
    assert _events(hub, "cid:4321:004") == []
    assert _stats(hub)["duhs_by_reason"] == {"encryption_required": 1}
