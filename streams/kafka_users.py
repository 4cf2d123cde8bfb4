"""SCRAM users of Kafka's SASL listener (`frontline kafka-user set`).

The local stack creates its user when it formats the broker's storage; this adds or changes one
on a running cluster (AlterUserScramCredentials), as whoever FRONTLINE_KAFKA_* connects as.
"""

from __future__ import annotations

from kafka.admin._users import ScramMechanism, UserScramCredentialUpsertion

from streams.settings import ConfigError, Settings
from streams.topic_admin import admin_client

MECHANISMS = (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512)


def set_scram_user(settings: Settings, user: str, password: str) -> None:
    """Create or change `user`'s SCRAM-SHA-256 and -512 credentials."""
    if not user or not password:
        raise ConfigError("a SCRAM user needs a name and a password")
    with admin_client(settings) as admin:
        # One mechanism per request: the broker refuses two alterations of a user in one.
        for mechanism in MECHANISMS:
            upsert = UserScramCredentialUpsertion(user, mechanism, password)
            error = admin.alter_user_scram_credentials([upsert]).get(user)
            if error:
                raise ConfigError(f"Kafka refused the SCRAM user {user!r}: {error}")
