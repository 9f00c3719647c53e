"""Secrets stay out of argv (MQTT passwords) and ``twinsight info`` opens encrypted cases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.mqtt_broker import Broker, skip_without_mosquitto

ROOT = Path(__file__).resolve().parents[2]
TWINSIGHT = [sys.executable, "-m", "sim.cli"]
SECRET = "pump-42-s3cret"


def _env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TWINSIGHT_PASSWORD", "TWINSIGHT_MQTT_PASSWORD")}
    env.update(extra)
    return env


@pytest.fixture
def auth_broker(tmp_path):
    skip_without_mosquitto()
    pwfile = tmp_path / "passwd"
    pwfile.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(pwfile), "tech", SECRET], check=True,
                   capture_output=True)
    (tmp_path / "broker").mkdir()
    b = Broker(tmp_path / "broker", extra=f"password_file {pwfile}\n")
    b.conf.write_text(b.conf.read_text().replace("allow_anonymous true", "allow_anonymous false"))
    b.start()
    yield b
    b.stop()


def _record(tmp_path, broker, extra_args, env):
    out = tmp_path / f"h{len(list(tmp_path.glob('h*.db')))}.db"
    proc = subprocess.Popen(
        [*TWINSIGHT, "link", "record", "--mqtt", f"mqtt://127.0.0.1:{broker.port}",
         "--username", "tech", *extra_args, "-o", str(out), "--duration", "1.5", "--json"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL)
    cmdlines = []
    while proc.poll() is None:
        try:
            line = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        except OSError:
            break
        if line:  # empty while the process is still being exec'd
            cmdlines.append(line)
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=60)
    return proc.returncode, stdout, stderr, cmdlines


def test_mqtt_password_from_file_or_environment_never_in_argv(tmp_path, auth_broker):
    pw = tmp_path / "mqtt-password"
    pw.write_text(SECRET + "\n")
    pw.chmod(0o600)
    for args, env in ((["--password-file", str(pw)], _env()),
                      ([], _env(TWINSIGHT_MQTT_PASSWORD=SECRET))):
        code, out, err, cmdlines = _record(tmp_path, auth_broker, args, env)
        assert code == 0, err  # the broker accepted the password: it did arrive
        assert json.loads(out)["mqtt"]["connects"] >= 1
        assert cmdlines and all(b"--mqtt" in c for c in cmdlines)  # we read the real argv
        assert not any(SECRET.encode() in c for c in cmdlines)
        assert SECRET not in out + err and "visible" not in err
    # without a password the broker refuses: the password really is what connects
    code, _, err, _ = _record(tmp_path, auth_broker, ["--timeout", "2"], _env())
    assert code != 0 and SECRET not in err
    # --password still works, with a warning that others can see it
    code, _, err, cmdlines = _record(tmp_path, auth_broker, ["--password", SECRET], _env())
    assert code == 0 and "visible to other users" in err
    assert any(SECRET.encode() in c for c in cmdlines)  # the reason for the warning


@pytest.fixture
def encrypted_case(tmp_path, monkeypatch):
    from sim.model import crypto
    from sim.model.case_io import save_case
    from tests.sim.model.sample import make_case

    monkeypatch.setattr(crypto, "SCRYPT_N", 1 << 10)
    return save_case(make_case(), tmp_path / "enc.twin", password="case-pw")


def test_info_opens_encrypted_case_from_environment_and_file(encrypted_case, tmp_path):
    run = [*TWINSIGHT, "info", str(encrypted_case), "--json"]
    out = subprocess.run(run, cwd=ROOT, env=_env(TWINSIGHT_PASSWORD="case-pw"),
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["name"] == "Sample 0"
    pw = tmp_path / "pw"
    pw.write_text("case-pw\n")
    out = subprocess.run([*run, "--password-file", str(pw)], cwd=ROOT, env=_env(),
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0 and json.loads(out.stdout)["name"] == "Sample 0"
    out = subprocess.run(run, cwd=ROOT, env=_env(), capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 2 and "password" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    out = subprocess.run(run, cwd=ROOT, env=_env(TWINSIGHT_PASSWORD="wrong"),
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 2 and "password is wrong" in out.stderr


def test_info_asks_for_the_password_in_a_terminal(encrypted_case):
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(TWINSIGHT[0], [*TWINSIGHT[1:], "info", str(encrypted_case)],
                          cwd=str(ROOT), env=_env(), timeout=60, encoding="utf-8")
    child.expect("Password for .*enc.twin: ")
    child.sendline("case-pw")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "Sample 0" in child.before and "case-pw" not in child.before
