"""The README's websocket protocol names every frame the consumer takes or sends and every error code
a frame can be refused with (issue 4: "every client→server and server→client frame, its fields and
its error codes"). Read from the code, so a new frame or code without documentation fails here."""

from __future__ import annotations

import re
from pathlib import Path

from sessions import consumers

ROOT = Path(__file__).resolve().parent.parent
# The modules a websocket frame runs through; the record, scheduling and file pages answer over HTTP.
FRAME_MODULES = ["consumers.py", "services.py", "negotiation.py", "opening.py"]
# Codes of those modules that never reach a frame: the check-in and open/close pages show them as
# form errors, and ``not_found`` is a handshake refused with 4403 before any frame.
NOT_FRAME_CODES = {
    "already_open",
    "not_participant",
    "not_scheduled",
    "recording_undecided",
    "session_finished",
    "warning_not_acknowledged",
    "not_found",
}


def protocol_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("### Websocket protocol")
    return readme[start : readme.index("\n## ", start)]


def table_rows(section: str, heading: str) -> set[str]:
    table = section[section.index(heading) :].split("\n\n", 2)[1]
    return set(re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE))


def test_every_client_frame_is_in_the_client_table() -> None:
    taken = {"hello", "send", "typing", "release", "ping", *consumers.ORDER_FRAMES, *consumers.NEGOTIATION_FRAMES}
    assert taken - table_rows(protocol_section(), "Client → server:") == set()


def test_every_server_frame_is_in_the_server_table() -> None:
    source = (ROOT / "sessions" / "consumers.py").read_text(encoding="utf-8")
    sent = set(re.findall(r'"type": "([a-z_]+)"', source))  # dotted types are channel-layer events
    assert {"message", "ready", "ack", "error", "done"} <= sent  # the pattern still finds them
    assert sent - table_rows(protocol_section(), "Server → client:") == set()


def test_every_error_code_a_frame_can_get_is_documented() -> None:
    codes: set[str] = set()
    for name in FRAME_MODULES:
        source = (ROOT / "sessions" / name).read_text(encoding="utf-8")
        codes |= set(re.findall(r'(?:_error|RoomError|NegotiationError)\(\s*"([a-z_]+)"', source))
    assert {"malformed", "rate_limited", "forbidden", "muted", "check_in_required"} <= codes
    documented = set(re.findall(r"`([a-z_]+)`", protocol_section()))
    assert codes - NOT_FRAME_CODES - documented == set()
