"""Configuration: defaults, and errors that name the variable to fix."""

from __future__ import annotations

import pytest

from streams.settings import ConfigError, Settings, check_kafka_reachable


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.topic("shifts") == "frontline.shifts"
    ch = s.clickhouse
    assert (ch.host, ch.port, ch.user, ch.database) == ("127.0.0.1", 9000, "frontline", "frontline")
    assert s.dashboard.user == "dashboard"


def test_environment_overrides() -> None:
    s = Settings.from_env(
        {
            "FRONTLINE_KAFKA_BOOTSTRAP": "k1:19092,k2:19092",
            "FRONTLINE_TOPIC_PREFIX": "city-b.",
            "FRONTLINE_CLICKHOUSE_URL": "clickhouse://w:p%40ss@ch.example:19000",
            "FRONTLINE_CLICKHOUSE_DATABASE": "city_b",
        }
    )
    assert s.bootstrap_servers == ["k1:19092", "k2:19092"]
    assert s.topic("calls") == "city-b.calls"
    ch = s.clickhouse
    assert (ch.host, ch.port, ch.user, ch.password, ch.database) == (
        "ch.example",
        19000,
        "w",
        "p@ss",
        "city_b",
    )


def test_cluster_settings_reach_the_clickhouse_target_and_topics() -> None:
    s = Settings.from_env(
        {
            "FRONTLINE_CLICKHOUSE_CLUSTER": "frontline",
            "FRONTLINE_CLICKHOUSE_ALT_HOSTS": "127.0.0.1:9112,127.0.0.1:9113",
            "FRONTLINE_TOPIC_REPLICATION": "3",
        }
    )
    assert (s.clickhouse.cluster, s.clickhouse.alt_hosts) == ("frontline", s.clickhouse_alt_hosts)
    assert s.dashboard.cluster == "frontline"
    assert s.min_insync_replicas == 2  # derived: one broker of three may be down
    assert Settings.from_env({}).min_insync_replicas == 1
    explicit = {"FRONTLINE_TOPIC_REPLICATION": "3", "FRONTLINE_TOPIC_MIN_INSYNC_REPLICAS": "3"}
    assert Settings.from_env(explicit).min_insync_replicas == 3


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("FRONTLINE_KAFKA_BOOTSTRAP", "no-port"),
        ("FRONTLINE_TOPIC_PREFIX", "bad prefix/"),
        ("FRONTLINE_CLICKHOUSE_URL", "http://127.0.0.1:8123"),
        ("FRONTLINE_CLICKHOUSE_URL", "clickhouse://u:p@h:notaport"),
        ("FRONTLINE_CLICKHOUSE_URL", "clickhouse://u:p@h:9000/db"),
        ("FRONTLINE_CLICKHOUSE_DATABASE", "drop table; --"),
        ("FRONTLINE_CLICKHOUSE_CLUSTER", "two words"),
        ("FRONTLINE_CLICKHOUSE_ALT_HOSTS", "h1:9112,nowhere"),
        ("FRONTLINE_TOPIC_MIN_INSYNC_REPLICAS", "2"),  # more than the 1 replica
    ],
)
def test_bad_value_names_the_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=var):
        Settings.from_env({var: value})


def test_password_never_in_error_or_description() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"FRONTLINE_CLICKHOUSE_URL": "clickhouse://u:s3cret@h:x"})
    assert "s3cret" not in str(err.value)
    described = Settings.from_env({"FRONTLINE_CLICKHOUSE_URL": "clickhouse://u:s3cret@h:1"})
    assert "s3cret" not in str(described.describe())
    assert "s3cret" not in repr(described.clickhouse)


def test_unreachable_broker_fails_fast_naming_the_variable() -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    s = Settings.from_env({"FRONTLINE_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    with pytest.raises(ConfigError, match="FRONTLINE_KAFKA_BOOTSTRAP"):
        check_kafka_reachable(s, timeout=1)


def test_environ_round_trips() -> None:
    s = Settings.from_env(
        {"FRONTLINE_TOPIC_PREFIX": "city-b.", "FRONTLINE_CLICKHOUSE_DATABASE": "city_b"}
    )
    assert Settings.from_env(s.environ()) == s


def test_sasl_needs_a_user_and_says_which_variables() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"FRONTLINE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
    assert "FRONTLINE_KAFKA_USERNAME" in str(err.value)
    assert "FRONTLINE_KAFKA_PASSWORD" in str(err.value)
    ok = Settings.from_env(
        {
            "FRONTLINE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "FRONTLINE_KAFKA_USERNAME": "u",
            "FRONTLINE_KAFKA_PASSWORD": "secret-pw",
        }
    )
    assert "secret-pw" not in str(ok.describe())


def test_an_unknown_security_protocol_is_named() -> None:
    with pytest.raises(ConfigError, match="FRONTLINE_KAFKA_SECURITY_PROTOCOL='TLS'"):
        Settings.from_env({"FRONTLINE_KAFKA_SECURITY_PROTOCOL": "TLS"})
