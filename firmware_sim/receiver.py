"""A simulated Sur-Gard style alarm receiver: prints Contact ID records to a serial port, waits for ACK.

Run: `python -m firmware_sim.receiver /dev/ttyX [demo|heartbeats]`.
"""

from __future__ import annotations

import sys
import time

import serial

from device_drivers import contact_id

ACK_TIMEOUT = 4.0
RETRIES = 3  # a real receiver retries an unacknowledged record three times


class SimulatedReceiver:
    """Write receiver records to `port` and read the automation software's ACK/NAK, with retries."""

    def __init__(
        self, port: str, *, baudrate: int = 9600, receiver: str = "01", line: str = "1",
        with_checksum: bool = False, ack_timeout: float = ACK_TIMEOUT, retries: int = RETRIES,
    ) -> None:
        self.serial = serial.Serial(port, baudrate, timeout=0.05, write_timeout=2.0)
        self.receiver = receiver
        self.line = line
        self.with_checksum = with_checksum
        self.ack_timeout = ack_timeout
        self.retries = retries
        self.attempts = 0  # records written, retries included
        self.responses: list[int | None] = []  # ACK, NAK or None (timeout) per attempt

    def send_event(
        self, account: str, code: str, qualifier: str = "E", group: str = "00", zone: str = "000", *,
        with_checksum: bool | None = None,
    ) -> bool:
        """Send one Contact ID event and return True once it is ACKed (retrying up to `retries` times)."""
        use_checksum = self.with_checksum if with_checksum is None else with_checksum
        record = contact_id.format_record(
            account, qualifier, code, group, zone, receiver=self.receiver, line=self.line,
            with_checksum=use_checksum,
        )
        return self._deliver(record)

    def send_heartbeat(self) -> bool:
        """Send the heartbeat record and return True once it is ACKed."""
        return self._deliver(contact_id.format_heartbeat(receiver=self.receiver, line=self.line))

    def send_noise(self, data: bytes) -> None:
        """Write bytes that are no record (line noise, a truncated record, CR/LF)."""
        self.serial.write(data)
        self.serial.flush()

    def send_raw(self, record: bytes) -> int | None:
        """Write `record` + DC4 once and return the answer byte (ACK or NAK), or None on timeout."""
        self.serial.reset_input_buffer()  # a stale answer must not count for this record
        self.serial.write(record + bytes([contact_id.DC4]))
        self.serial.flush()
        self.attempts += 1
        answer = self._await_answer()
        self.responses.append(answer)
        return answer

    def close(self) -> None:
        """Close the serial port."""
        self.serial.close()

    def __enter__(self) -> SimulatedReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _deliver(self, record: bytes) -> bool:
        body = record[:-1]
        for _ in range(1 + self.retries):
            if self.send_raw(body) == contact_id.ACK:
                return True
        return False

    def _await_answer(self) -> int | None:
        deadline = time.monotonic() + self.ack_timeout
        while time.monotonic() < deadline:
            for byte in self.serial.read(1):
                if byte in (contact_id.ACK, contact_id.NAK):
                    return byte
        return None


def run(port: str, scenario: str = "demo") -> list[bool]:
    """Play a named scenario on `port` and return whether each record was ACKed."""
    with SimulatedReceiver(port) as rx:
        if scenario == "heartbeats":
            results = []
            for _ in range(3):
                results.append(rx.send_heartbeat())
                time.sleep(30)
            return results
        if scenario != "demo":
            raise ValueError(f"unknown scenario {scenario!r}: use demo or heartbeats")
        results = [rx.send_heartbeat(), rx.send_event("1234", "101", "E", "01", "001")]
        rx.send_noise(b"\r\n\x00\xff~~5011 18")
        results += [
            rx.send_event("1234", "101", "R", "01", "001"),
            rx.send_event("1234", "111", "E", "01", "003", with_checksum=True),
            rx.send_event("1234", "602", "E", "00", "000"),
        ]
        return results


if __name__ == "__main__":
    print(run(sys.argv[1], *sys.argv[2:3]))
