"""Schemathesis hooks for tools/test-openapi.sh (loaded through SCHEMATHESIS_HOOKS).

`POST /v1/sync` declares its body as `application/x-gridsync`, binary: schemathesis knows how to
send `application/octet-stream` bytes but not this media type by name, so it reuses that
serializer instead of skipping the route.
"""

import schemathesis

schemathesis.serializer.alias("application/x-gridsync", "application/octet-stream")
