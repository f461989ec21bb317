"""A tiny OpenID Connect provider on loopback, for the single sign-on tests.

It serves discovery, its signing keys, an authorization endpoint that signs in whoever the test
names (`idp.person`) and redirects back with a code, a token endpoint that checks the client
secret and the PKCE verifier and returns an RS256-signed id_token, and userinfo.
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLIENT_ID = "launch-portal"
CLIENT_SECRET = "not-a-real-secret"
KID = "test-key-1"


class FakeIdP:
    def __init__(self, port: int):
        self.issuer = f"http://127.0.0.1:{port}"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.person = {"sub": "u-1", "email": "", "email_verified": True, "name": ""}
        self.codes: dict[str, dict] = {}  # code -> {person, challenge, redirect_uri}
        self.tokens: dict[str, dict] = {}  # access token -> person
        self.requests: list[str] = []  # paths asked, in order
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_GET(self):
                idp.requests.append(urlparse(self.path).path)
                idp.get(self)

            def do_POST(self):
                idp.requests.append(urlparse(self.path).path)
                idp.post(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeIdP":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def provider_settings(self, provider_id: str = "sso") -> dict:
        """SOCIALACCOUNT_PROVIDERS, in the shape portal/settings.py _oidc_providers() gives."""
        app = {
            "provider_id": provider_id,
            "name": "Single sign-on",
            "client_id": CLIENT_ID,
            "secret": CLIENT_SECRET,
            "settings": {"server_url": self.issuer},
        }
        return {"openid_connect": {"APPS": [app], "OAUTH_PKCE_ENABLED": True}}

    # --- endpoints ------------------------------------------------------------------------------

    def get(self, handler) -> None:
        url = urlparse(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            self._json(handler, self._discovery())
        elif url.path == "/jwks":
            jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            self._json(handler, {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]})
        elif url.path == "/authorize":
            self._authorize(handler, query)
        elif url.path == "/userinfo":
            token = handler.headers.get("Authorization", "").removeprefix("Bearer ")
            person = self.tokens.get(token)
            self._json(handler, person, 200) if person else self._json(handler, {}, 401)
        else:
            self._json(handler, {"error": "not found"}, 404)

    def post(self, handler) -> None:
        length = int(handler.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        if urlparse(handler.path).path != "/token":
            return self._json(handler, {"error": "not found"}, 404)
        grant = self.codes.pop(form.get("code", ""), None)  # a code is used once
        if grant is None or form.get("client_secret") != CLIENT_SECRET:
            return self._json(handler, {"error": "invalid_grant"}, 400)
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if challenge.decode() != grant["challenge"]:
            return self._json(handler, {"error": "invalid_grant", "why": "pkce"}, 400)
        access = secrets.token_urlsafe(16)
        self.tokens[access] = grant["person"]
        body = {"access_token": access, "token_type": "Bearer", "expires_in": 300,
                "id_token": self._id_token(grant["person"])}  # fmt: skip
        self._json(handler, body)

    def _discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }

    def _authorize(self, handler, query: dict) -> None:
        if query.get("client_id") != CLIENT_ID or query.get("code_challenge_method") != "S256":
            return self._json(handler, {"error": "invalid_request"}, 400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"person": dict(self.person), "challenge": query["code_challenge"]}
        back = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        handler.send_response(302)
        handler.send_header("Location", back)
        handler.end_headers()

    def _id_token(self, person: dict) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300, **person}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})

    @staticmethod
    def _json(handler, body, status: int = 200) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
