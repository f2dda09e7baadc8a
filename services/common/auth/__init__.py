"""IAM-style auth tokens: SigV4 presigned URLs (sigv4) checked against the credential store (store)."""

from services.common.auth.sigv4 import Identity, authorize, generate_token, verify_token
from services.common.auth.store import Credential, CredentialStore

__all__ = ["Identity", "authorize", "generate_token", "verify_token", "Credential", "CredentialStore"]
