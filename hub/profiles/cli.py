"""`carehub profiles check FILE [--sample payload.json]`: validate a declarative profile before installing it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from device_drivers.model import DecodeError, DeviceEvent, DeviceStatus, Message, Reading, UnmappedFields
from device_drivers.profiles.builtin import BUILTIN_NAMES
from device_drivers.profiles.declarative import (
    DeclarativeProfile,
    ProfileFileError,
    check_unique,
    load_profile_file,
    profile_files,
)

app = typer.Typer(no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="The profile file (TOML) to validate.")],
    sample: Annotated[Path | None, typer.Option(help="A payload (JSON) to decode with it.")] = None,
    topic: Annotated[str, typer.Option(help="Decode --sample as an MQTT message on this topic (default: as "
                                             "an HTTP push when the profile has [push], else its first topic).")] = "",
) -> None:
    """Validate a profile file and print what it maps; exit 1 naming the file, line and field of any error."""
    try:
        profile = load_profile_file(file)
        _check_against_installed(profile, file)
    except ProfileFileError as err:
        raise _fail(str(err)) from None
    for line in summary(profile):
        typer.echo(line)
    if sample is None:
        typer.echo("OK")
        return
    try:
        payload = sample.read_bytes()
    except OSError as err:
        raise _fail(f"cannot read the sample: {err}") from None
    as_push = not topic and (profile.push_path is not None or bool(profile.push_keys))
    where = "HTTP push" if as_push else f"MQTT topic {topic or _example_topic(profile)!r}"
    try:
        if as_push:
            messages = profile.decode_push(payload, received_at=time.time())
        else:
            messages = profile.decode(topic or _example_topic(profile), payload, received_at=time.time())
    except DecodeError as err:
        raise _fail(f"{sample} rejected as {where}: {err}") from None
    typer.echo(f"{sample} as {where} -> {len(messages)} canonical message(s):")
    for message in messages:
        typer.echo(f"  {describe_message(message)}")
    typer.echo("OK")


def _check_against_installed(profile: DeclarativeProfile, file: Path) -> None:
    """Refuse a name, push path or push key another file of the configured profile_dirs already claims."""
    from hub.config import get_settings

    others: list[DeclarativeProfile] = []
    for path in profile_files(get_settings().profile_dirs):
        if path.resolve() == file.resolve():
            continue
        try:
            others.append(load_profile_file(path))
        except ProfileFileError as err:
            typer.echo(f"warning: an installed profile does not load (the hub refuses the directory until it "
                       f"is fixed): {err}", err=True)
    check_unique([*others, profile], reserved_names=BUILTIN_NAMES)


def summary(profile: DeclarativeProfile) -> list[str]:
    """Return the lines `check` prints: where the profile listens and what each rule maps."""
    device = f"from payload field {'.'.join(profile.device_path)!r}" if profile.device_path else "from {device}"
    lines = [f"profile {profile.name!r} ({profile.origin})" + (f": {profile.description}" if profile.description
                                                                  else ""),
             f"  device key    {profile.key_prefix}:<device>, {device}"]
    lines.append(f"  MQTT topics   {', '.join(profile.subscriptions) or '(none)'}")
    if profile.push_path is None and not profile.push_keys:
        lines.append("  HTTP push     (none)")
    if profile.push_path is not None:
        who = f"API keys {', '.join(profile.push_keys)} only" if profile.push_keys else "any integration API key"
        lines.append(f"  HTTP push     POST /api/push/p/{profile.push_path} ({who})")
    if profile.push_keys:
        lines.append(f"  HTTP push     POST /api/push with API key {', '.join(profile.push_keys)}")
    if profile.time_path:
        unit = "ms" if profile.time_divisor == 1000.0 else "s"
        lines.append(f"  device time   {'.'.join(profile.time_path)} (epoch {unit})")
    for r in profile.readings:
        scaled = "" if (r.scale, r.offset) == (1.0, 0.0) else f" (x {r.scale:g} + {r.offset:g})"
        lines.append(f"  reading       {'.'.join(r.path)} -> {r.metric} [{r.unit}]{scaled}"
                     + (", 0 skipped" if r.skip_zero else ""))
    for e in profile.events:
        otherwise = f", otherwise {e.otherwise.value}" if e.otherwise else ""
        lines.append(f"  event         {'.'.join(e.path)} {e.condition} -> {e.kind.value} {e.state.value}{otherwise}")
    for s in profile.statuses:
        src = ", ".join("/".join(t) for t in s.topics) or f"field {'.'.join(s.path)!r}"
        lines.append(f"  status        {src}: online {list(s.online)}, offline {list(s.offline)}")
    if profile.selftest_path:
        lines.append(f"  self-test     {'.'.join(profile.selftest_path)} (hazard events suppressed)")
    if profile.records_path:
        lines.append(f"  records       {'.'.join(profile.records_path)}[] (each decoded like the top level)")
    if profile.ignore:
        lines.append(f"  ignored       {', '.join(profile.ignore)}")
    lines.append("  anything else in a payload is reported as unmapped fields")
    return lines


def describe_message(message: Message) -> str:
    """Return one canonical message as a short line."""
    if isinstance(message, Reading):
        return f"reading  {message.device_key} {message.metric} = {message.value:g} {message.unit}  ts={message.ts:.3f}"
    if isinstance(message, DeviceEvent):
        alarm = "  ALARM" if message.is_alarm else ""
        return f"event    {message.device_key} {message.kind.value} {message.state.value}{alarm}  ts={message.ts:.3f}"
    if isinstance(message, DeviceStatus):
        return f"status   {message.device_key} {message.availability.value}  ts={message.ts:.3f}"
    if isinstance(message, UnmappedFields):
        return f"unmapped {message.device_key} {', '.join(message.fields)}"
    return repr(message)


def _example_topic(profile: DeclarativeProfile) -> str:
    """Return a concrete topic the first data pattern matches ({device} -> sample-device)."""
    if not profile.topics:
        return ""
    return "/".join({"{device}": "sample-device", "+": "x", "#": "x"}.get(seg, seg) for seg in profile.topics[0])
