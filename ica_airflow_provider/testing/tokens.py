"""Real-looking JWTs (HS256 with a per-server secret), standard library only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from ica_airflow_provider.testing.problems import unauthorized

AUDIENCE = "ica"
ISSUER = "https://fake-ica.invalid/ica"


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenClaims:
    """What the fake needs back from a verified token."""

    subject: str
    token_id: str
    issued_at: int
    expires_at: int
    from_api_key: bool


class TokenIssuer:
    """Mints and verifies the fake's JWTs."""

    def __init__(self, tenant_id: str, tenant_name: str) -> None:
        self._secret = secrets.token_bytes(32)
        self._tenant_id = tenant_id
        self._tenant_name = tenant_name
        self._minted: set[str] = set()
        self._revoked: set[str] = set()

    def mint(self, subject: str, now: float, lifetime: int) -> str:
        """Return a signed JWT for ``subject`` valid for ``lifetime`` seconds from ``now``."""
        issued_at = int(now)
        token_id = str(uuid.uuid4())
        self._minted.add(token_id)
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "sub": subject,
            "aud": [AUDIENCE],
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + lifetime,
            "jti": token_id,
            "tid": self._tenant_id,
            "tns": self._tenant_name,
            # Real API-key JWTs cannot be refreshed; remember how this one was made.
            "amr": ["apikey"],
        }
        header = {"alg": "HS256", "typ": "JWT"}
        signing_input = ".".join(
            _b64encode(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)
        )
        return f"{signing_input}.{_b64encode(self._sign(signing_input))}"

    def verify(self, token: str, now: float) -> TokenClaims:
        """Return the claims of a valid token or raise a 401 problem saying why not."""
        parts = token.split(".")
        if len(parts) != 3:
            raise unauthorized("Invalid JWT: not a JSON Web Token")
        signing_input = f"{parts[0]}.{parts[1]}"
        try:
            signature = _b64decode(parts[2])
            payload = json.loads(_b64decode(parts[1]))
        except ValueError as exc:
            raise unauthorized("Invalid JWT: malformed token") from exc
        if not hmac.compare_digest(signature, self._sign(signing_input)):
            raise unauthorized("Invalid JWT: signature verification failed")
        if not isinstance(payload, dict) or AUDIENCE not in payload.get("aud", []):
            raise unauthorized("Invalid JWT: wrong audience")
        claims = TokenClaims(
            subject=str(payload["sub"]),
            token_id=str(payload["jti"]),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
            from_api_key="apikey" in payload.get("amr", []),
        )
        if claims.token_id in self._revoked:
            raise unauthorized("Invalid JWT: token has been revoked")
        if now >= claims.expires_at:
            raise unauthorized("Expired JWT: token expired at " + str(claims.expires_at))
        return claims

    def revoke(self, token_id: str) -> None:
        """Make one token invalid from now on."""
        self._revoked.add(token_id)

    def revoke_all(self) -> None:
        """Make every token minted so far invalid (simulates a server-side logout)."""
        self._revoked |= self._minted

    def _sign(self, signing_input: str) -> bytes:
        return hmac.new(self._secret, signing_input.encode("ascii"), hashlib.sha256).digest()
