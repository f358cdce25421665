"""The security-event log: one function, one logger (`kindred.security`).

Security events (failed logins, password changes, sessions ended, denied access, rate
limits, account deletion, data export) are written so staff can spot abuse without the
log itself becoming a store of personal data. So a line holds the event name, a
pseudonymous reference to the person (never their email or display name) and a few plain
fields. Message bodies, emails, names and raw IP addresses are never written: fields with
those names are dropped (an IP address is replaced by a keyed hash, so repeat attempts
from one address can still be seen together).

    security_event("login_failed", user=None, method="email")
    security_event("password_changed", user=request.user, other_sessions_ended=2)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from django.conf import settings

logger = logging.getLogger("kindred.security")

# Field names that would put personal data or someone's words in the log: never written.
PERSONAL_FIELDS = frozenset({
    "email", "emails", "username", "name", "display_name", "first_name", "last_name",
    "body", "text", "message", "content", "password", "answer", "answers", "bio",
    "phone", "address", "location", "user_agent", "session_key", "token",
})
# Field names whose value is an address: written only as a keyed hash.
HASHED_FIELDS = frozenset({"ip", "ip_address", "remote_addr"})
MAX_FIELD_LENGTH = 80


def _key() -> bytes:
    """The key for pseudonyms and hashes; a site may pin it apart from SECRET_KEY so that
    rotating the secret does not change every pseudonym."""
    key = getattr(settings, "KINDRED_PSEUDONYM_KEY", "") or settings.SECRET_KEY
    return key.encode()


def keyed_hash(value: str, *, length: int = 16) -> str:
    return hmac.new(_key(), value.encode(), hashlib.sha256).hexdigest()[:length]


def pseudonym(user_id: int) -> str:
    """A stable, non-reversible reference to a person: `member-<keyed hash of the id>`.

    The same id always gives the same reference, so audit rows and log lines about one
    (possibly deleted) person can still be read together, without naming them."""
    return f"member-{keyed_hash(f'user:{user_id}')}"


def _clean(key: str, value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, int | float):
        return value
    text = str(value)
    if key in HASHED_FIELDS:
        return keyed_hash(f"ip:{text}")
    return text[:MAX_FIELD_LENGTH]


def security_event(name: str, *, user=None, **fields: Any) -> None:
    """Log one security event.

    `user` may be a user object, a numeric id or None (e.g. a failed login for an unknown
    address). Other keyword fields should be plain, non-personal values (counts, codes,
    a group id, a route name); personal ones are dropped, an IP address is hashed.
    """
    record: dict[str, Any] = {"event": str(name)}
    user_id = getattr(user, "pk", user)
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        record["user"] = pseudonym(user_id)
    for key, value in sorted(fields.items()):
        if key in PERSONAL_FIELDS or key in record:
            continue
        record[key] = _clean(key, value)
    logger.info("security %s", json.dumps(record, sort_keys=True),
                extra={"security_event": record})
