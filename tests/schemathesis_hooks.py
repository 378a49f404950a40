"""Hooks for tests/schemathesis.sh (loaded by tests/schemathesis.toml).

A client names each new response with a new `Idempotency-Key`: that is the header's contract,
and the server refuses a key used before for other content (422, as the IETF Idempotency-Key
draft says). Schemathesis draws keys from a small space and so repeats one across different
responses; as its own advice goes, a `before_call` hook gives the unique field fresh values. A
well-formed key gets a suffix that makes it unique (a malformed one, drawn to be refused, is
sent as drawn), so every other rule of the request is still checked as generated.
"""

import itertools
import re

import schemathesis

HEADER = "Idempotency-Key"
# What the server accepts (1 to 255 visible ASCII characters), with room for the suffix.
WELL_FORMED = re.compile(r"[!-~]{1,240}")
_sent = itertools.count(1)


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers
    if not headers:
        return
    key = headers.get(HEADER)
    if isinstance(key, str) and WELL_FORMED.fullmatch(key):
        headers[HEADER] = f"{key}~{next(_sent)}"
