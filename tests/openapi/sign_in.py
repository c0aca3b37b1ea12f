"""Signs in as a demo account of a running `gridsync serve --demo`; prints its access token.

Usage: sign_in.py URL SERVER_STDOUT USER. The password is read from the account table the demo
printed on SERVER_STDOUT (`user role password scope  name…`).
"""

import json
import secrets
import sys
import urllib.request


def demo_password(stdout_path: str, user: str) -> str:
    with open(stdout_path, encoding="utf-8") as f:
        for line in f:
            words = line.split()
            if len(words) >= 3 and words[0] == user:
                return words[2]
    raise SystemExit(f"the demo printed no account {user!r} in {stdout_path}")


def main() -> None:
    url, stdout_path, user = sys.argv[1:4]
    body = {
        "user": user,
        "password": demo_password(stdout_path, user),
        # A device of its own, so nothing the tester sends can sign out another's.
        "device": f"openapi-{secrets.token_hex(4)}",
        "actor": secrets.token_hex(16),
    }
    req = urllib.request.Request(
        url + "/v1/auth/login",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        print(json.load(resp)["access_token"])


if __name__ == "__main__":
    main()
