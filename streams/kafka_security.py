"""How every Frontline client authenticates to Kafka: one place for kafka-python, aiokafka and
Faust, from the same settings (README, "Kafka security").

FRONTLINE_KAFKA_SECURITY_PROTOCOL is PLAINTEXT (the default, the local stack's port 9092),
SASL_PLAINTEXT or SASL_SSL with a SCRAM (or PLAIN) user and password, or SSL; the *_SSL
protocols verify the broker against FRONTLINE_KAFKA_CA_FILE (the system's CAs if empty).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from streams.settings import Settings

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT


def unreachable_hint(settings: Settings) -> str:
    """What to check when no broker answers, for the configured security."""
    hint = "is it up? (FRONTLINE_KAFKA_BOOTSTRAP; the local stack: deploy/stack up)"
    if _sasl(settings):
        hint += (
            f"; or the SASL user is refused: check FRONTLINE_KAFKA_USERNAME "
            f"({settings.kafka_username!r}), FRONTLINE_KAFKA_PASSWORD and "
            f"FRONTLINE_KAFKA_SASL_MECHANISM ({settings.kafka_sasl_mechanism}); "
            "`frontline kafka-user set` creates one"
        )
    if _tls(settings):
        hint += "; or TLS fails: check FRONTLINE_KAFKA_CA_FILE"
    return hint


def _tls(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SSL", "SASL_SSL")


def _sasl(settings: Settings) -> bool:
    return settings.kafka_security_protocol.startswith("SASL_")


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not _tls(settings):
        return None
    return ssl.create_default_context(cafile=settings.kafka_ca_file or None)


def kafka_python_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer, KafkaAdminClient."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if _sasl(settings):
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_username,
            "sasl_plain_password": settings.kafka_password,
        }
    if _tls(settings):
        options["ssl_context"] = ssl_context(settings)
    return options


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka's clients (the worker's fetcher, audit reads): aiokafka
    names these settings as kafka-python does."""
    return kafka_python_options(settings)


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """`broker_credentials` of the worker's Faust app (its producer sends dead letters)."""
    # Here, not at the top: faust takes 0.3 s to import, which commands without it need not pay.
    from faust.auth import SASLCredentials, SSLCredentials

    if _sasl(settings):
        return SASLCredentials(
            username=settings.kafka_username,
            password=settings.kafka_password,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=ssl_context(settings),
        )
    if _tls(settings):
        return SSLCredentials(ssl_context(settings))
    return None
