"""MQTT telemetry with a real mosquitto broker: ingest, commands, auth, TLS, restarts."""

from __future__ import annotations

import datetime
import json
import subprocess
import threading
import time

import pytest

from sim.twin import simulate
from sim.twin.history import HistoryStore
from sim.twin.mqtt_link import BrokerConfig, MqttLink
from sim.twin.telemetry import TelemetryTwin
from tests.mqtt_broker import paho_client


def link(url: str, **kw) -> MqttLink:
    m = MqttLink(BrokerConfig.from_url(url), backoff=(0.05, 0.5), **kw).start()
    m.require_connected(10)
    return m


def test_broker_url_parsing():
    c = BrokerConfig.from_url("mqtts://ann:s%40cret@broker.local")
    assert (c.host, c.port, c.tls, c.username, c.password) == ("broker.local", 8883, True,
                                                              "ann", "s@cret")
    assert "s@cret" not in c.describe()
    assert BrokerConfig.from_url("127.0.0.1:1999").port == 1999
    from sim.errors import InputError

    with pytest.raises(InputError):
        BrokerConfig.from_url("http://x")


def test_telemetry_reaches_model_history_and_alarms(broker, tmp_path, wait_until):
    config = simulate.demo_config()
    store = HistoryStore(tmp_path / "h.db")
    twin = TelemetryTwin(config, store)
    sub = link(broker.url, on_message=twin.ingest)
    assert sub.subscribe(twin.topics, wait=10)  # SUBACK: publishing now reaches us
    pub = paho_client(broker.url, "asset-telemetry")
    try:
        for i, v in enumerate([40.0, 40.1, 70.0]):  # the last is high and too fast
            pub.publish(config.sensors[0].topic,
                        json.dumps({"value": v, "unit": "degC", "t": time.time() + 2 * i - 4}),
                        qos=1)
        pub.publish(config.sensors[3].topic, b"3.25", qos=1)  # bare number
        pub.publish(config.sensors[3].topic, b"{not json", qos=1)
        pub.publish(config.sensors[3].topic, json.dumps({"value": 1, "unit": "g"}), qos=1)
        assert wait_until(lambda: twin.counters.received == 6, 10)
        assert twin.counters.accepted == 4 and twin.counters.rejected == 2
        assert twin.values()["temp_bend"] == 70.0 and twin.values()["vibration"] == 3.25
        kinds = {(a.sensor, a.kind) for a in twin.alarms.open_alarms}
        assert kinds == {("temp_bend", "high"), ("temp_bend", "rate")}
        store.flush()
        with store.reader() as r:
            assert [e.value for e in r.events(kinds=("value",), channel="temp_bend")] == \
                [40.0, 40.1, 70.0]
            assert len(list(r.events(kinds=("alarm",)))) == 2
    finally:
        sub.close()
        pub.loop_stop()
        pub.disconnect()
        store.close()


def test_desired_state_command_and_acknowledgement(broker, wait_until):
    config = simulate.demo_config()
    asset = simulate.PumpAsset()
    asset_link = link(broker.url)
    asset_link.on_message = lambda t, p: asset_link.publish(
        f"{config.base_topic}/ack", json.dumps(asset.command(p)))
    assert asset_link.subscribe(f"{config.base_topic}/cmd/#", wait=10)
    twin_link = link(broker.url)
    twin = TelemetryTwin(config, publish=lambda t, p: twin_link.publish(t, p))
    twin_link.on_message = twin.ingest
    assert twin_link.subscribe(twin.topics, wait=10)
    try:
        twin.state.set_desired("speed", 2000)
        prop = twin.state.properties["speed"]
        assert prop.ack == "pending"
        assert wait_until(lambda: prop.ack == "acknowledged", 10)
        assert asset.target_speed == 2000
        asset_link.publish(f"{config.base_topic}/reported/speed", json.dumps({"value": 2000}))
        assert wait_until(lambda: prop.reported == 2000, 10)
        assert prop.in_sync
    finally:
        asset_link.close()
        twin_link.close()


def test_unanswered_command_times_out():
    twin = TelemetryTwin(simulate.demo_config())
    twin.state.ack_timeout = 0.0
    twin.state.set_desired("speed", 100)
    assert [p.name for p in twin.state.check_timeouts(time.time() + 1)] == ["speed"]
    assert twin.state.properties["speed"].ack == "timed out"


def test_username_and_password(tmp_path, broker_factory):
    pwfile = tmp_path / "passwd"
    pwfile.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(pwfile), "tech", "pump-42"], check=True,
                   capture_output=True)
    b = broker_factory(extra=f"password_file {pwfile}\n", anonymous=False)
    b.start()
    try:
        good = link(f"mqtt://tech:pump-42@127.0.0.1:{b.port}")
        good.close()
        bad = MqttLink(BrokerConfig.from_url(f"mqtt://tech:wrong@127.0.0.1:{b.port}"),
                       backoff=(0.05, 0.2)).start()
        assert not bad.wait_connected(1.0)
        assert bad.last_error and "authori" in bad.last_error.lower()
        bad.close()
    finally:
        b.stop()


def _make_certs(folder):
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Twinsight test CA"))
          .issuer_name(name("Twinsight test CA")).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (folder / "ca.crt").write_bytes(ca.public_bytes(pem))
    (folder / "server.crt").write_bytes(cert.public_bytes(pem))
    (folder / "server.key").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))


def test_tls_broker(tmp_path, wait_until, broker_factory):
    _make_certs(tmp_path)
    b = broker_factory(extra=(f"cafile {tmp_path}/ca.crt\ncertfile {tmp_path}/server.crt\n"
                                f"keyfile {tmp_path}/server.key\n"))
    b.start()
    got = []
    try:
        cfg = BrokerConfig.from_url(f"mqtts://127.0.0.1:{b.port}", ca_certs=str(tmp_path / "ca.crt"))
        m = MqttLink(cfg, on_message=lambda t, p: got.append(p)).start()
        m.require_connected(10)
        assert m.subscribe("tls/test", wait=10)
        m.publish("tls/test", b"42")
        assert wait_until(lambda: got == [b"42"], 10)
        m.close()
        # Without the CA the broker's certificate is not trusted: no connection.
        plain = MqttLink(BrokerConfig.from_url(f"mqtts://127.0.0.1:{b.port}"),
                         backoff=(0.05, 0.2)).start()
        assert not plain.wait_connected(1.0)
        plain.close()
    finally:
        b.stop()


def test_qos1_nothing_lost_across_broker_restart(broker_factory, wait_until):
    """Messages the broker accepted while we were away arrive when we are back."""
    b = broker_factory()
    b.start()
    got: list[int] = []

    def twin_link():
        m = MqttLink(BrokerConfig.from_url(b.url), client_id="twin-restart-test",
                     on_message=lambda t, p: got.append(int(p)), backoff=(0.05, 0.3)).start()
        m.subscribe("pump/seq")
        m.require_connected(10)
        assert m.wait_subscribed(10)
        return m

    sub = twin_link()
    pub = paho_client(b.url, "asset-restart-test")
    try:
        for i in range(100):
            pub.publish("pump/seq", str(i), qos=1).wait_for_publish(5)
        assert wait_until(lambda: len(got) == 100, 10)
        sub.close()  # the twin goes away ...
        for i in range(100, 200):  # ... while the asset keeps publishing (the broker queues)
            pub.publish("pump/seq", str(i), qos=1).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()
        b.stop()  # the broker restarts; its queue survives in its persistence file
        b.start()
        pub = paho_client(b.url, "asset-restart-test")
        for i in range(200, 250):
            pub.publish("pump/seq", str(i), qos=1).wait_for_publish(5)
        sub = twin_link()  # the twin comes back with the same persistent session
        assert wait_until(lambda: len(set(got)) == 250, 15), f"got {len(set(got))}"
        assert sorted(set(got)) == list(range(250))
    finally:
        sub.close()
        pub.loop_stop()
        pub.disconnect()
        b.stop()


def test_our_qos1_publications_survive_a_broker_outage(broker_factory, wait_until):
    """What the twin publishes (commands) while the broker is down is sent when it is back."""
    b = broker_factory()
    b.start()
    got: list[int] = []
    peer = paho_client(b.url, "asset-listener")
    peer.on_message = lambda c, u, m: got.append(int(m.payload))
    subscribed = threading.Event()
    peer.on_subscribe = lambda *args: subscribed.set()  # the broker's SUBACK
    peer.subscribe("twin/cmd", qos=1)
    out = MqttLink(BrokerConfig.from_url(b.url), client_id="twin-publisher",
                   backoff=(0.05, 0.3)).start()
    try:
        out.require_connected(10)
        assert subscribed.wait(10)
        for i in range(50):
            out.publish("twin/cmd", str(i))
        assert wait_until(lambda: len(got) == 50, 10)
        b.stop()
        assert wait_until(lambda: not out.connected.is_set(), 5)
        infos = [out.publish("twin/cmd", str(i)) for i in range(50, 120)]  # while it is down
        assert not any(i.is_published() for i in infos)
        b.start()
        assert all(i.wait_for_publish(15) for i in infos)
        assert wait_until(lambda: set(got) == set(range(120)), 15), f"got {len(set(got))}"
    finally:
        out.close()
        peer.loop_stop()
        peer.disconnect()
        b.stop()


def test_link_reconnects_by_itself_after_broker_restart(broker_factory, wait_until):
    b = broker_factory()
    b.start()
    got: list[bytes] = []
    sub = MqttLink(BrokerConfig.from_url(b.url), on_message=lambda t, p: got.append(p),
                   backoff=(0.05, 0.3)).start()
    try:
        sub.require_connected(10)
        sub.subscribe("a/b")
        b.stop()
        assert wait_until(lambda: not sub.connected.is_set(), 5)
        time.sleep(0.5)
        b.start()
        assert wait_until(lambda: sub.counters.connects == 2, 15)
        assert sub.wait_subscribed(10)  # resubscribed on reconnect, acknowledged
        pub = link(b.url)
        pub.publish("a/b", b"after").wait_for_publish(5)
        assert wait_until(lambda: got == [b"after"], 10)  # resubscribed on reconnect
        pub.close()
    finally:
        sub.close()
        b.stop()


def test_session_records_unbound_topics(broker, tmp_path, wait_until):
    from sim.twin.session import LiveSession

    session = LiveSession(config=simulate.demo_config(), history=tmp_path / "s.db")
    session.connect_mqtt(BrokerConfig.from_url(broker.url), topics=["extra/#"])
    pub = paho_client(broker.url, "extra-publisher")
    try:
        assert session.mqtt.wait_subscribed(10)
        pub.publish("extra/temp", b"21.5", qos=1).wait_for_publish(5)
        pub.publish("extra/note", b"door open", qos=1).wait_for_publish(5)
        assert wait_until(lambda: session.raw_received == 2, 10)
        status = session.status()
        assert status["mqtt"]["connected"] and status["telemetry"]["unbound"] == 2
    finally:
        pub.loop_stop()
        pub.disconnect()
        session.close()
    with HistoryStore.open(tmp_path / "s.db") as r:
        events = {(e.kind, e.channel): e for e in r.events()}
    assert events[("value", "extra/temp")].value == 21.5
    assert events[("string", "extra/note")].data == "door open"
