"""A realistic peer for demos and tests: a factory asset on MQTT and a tracked instrument.

The asset is a pump mounted on an L-bracket with two temperature sensors, a
vibration sensor and a strain gauge (region at the bend). Values follow a slow drift
plus noise; at ``fault_at`` seconds a bearing fault starts: the bend heats up
quickly (a rate-of-change alarm, then a high-temperature alarm) and vibration
jumps. The pump's ``speed`` can be commanded; the asset acknowledges and ramps to it.

Wear mode (``wear_life`` seconds, ``link simulate --wear``): instead of a sudden fault the
bearing degrades slowly; vibration and the bend's temperature rise with the square of the
worn fraction until the pump fails at ``wear_life`` (vibration far above its range), so a
remaining-life gauge moves during a demo. :func:`wear_fleet` runs a fleet of such pumps to
failure, with different lives and starting points, to train a remaining-life model on.

The instrument is served over OpenIGTLink like PLUS does (we listen, the twin
connects): a stylus circling and descending towards a target, plus a small
synthetic ultrasound frame.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyvista as pv

from sim.twin import igtl_wire as wire
from sim.twin.igtl_link import IgtlServer
from sim.twin.sensors import Sensor
from sim.twin.telemetry import TwinConfig
from sim.twin.twin_state import TwinProperty

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sim.predict.fleet import Fleet
    from sim.twin.mqtt_link import MqttLink

BASE_TOPIC = "twinsight/pump1"


def demo_asset_surface() -> pv.PolyData:
    """The pump bracket (part frame, mm), refined so colours can vary across it."""
    from sim.demo.parts import make_bracket

    return make_bracket(origin=(0.0, 0.0, 0.0)).triangulate().subdivide(3, "linear").clean()


def demo_config(base_topic: str = BASE_TOPIC, object_name: str = "Pump bracket") -> TwinConfig:
    surface = demo_asset_surface()
    pts = surface.points
    bend = np.where((pts[:, 0] < 12.0) & (pts[:, 2] < 12.0))[0].tolist()
    s = [
        Sensor("temp_bend", f"{base_topic}/temperature/bend", "temperature", "degC",
               (15.0, 60.0), object_name, point=(6.0, 20.0, 6.0), limits=(-50.0, 400.0),
               max_rate=0.5, name="Bend temperature"),
        Sensor("temp_foot", f"{base_topic}/temperature/foot", "temperature", "degC",
               (15.0, 60.0), object_name, point=(50.0, 20.0, 3.0), limits=(-50.0, 400.0),
               max_rate=0.5, name="Foot temperature"),
        Sensor("temp_top", f"{base_topic}/temperature/top", "temperature", "degC",
               (15.0, 60.0), object_name, point=(3.0, 20.0, 50.0), limits=(-50.0, 400.0),
               max_rate=0.5, name="Top temperature"),
        Sensor("vibration", f"{base_topic}/vibration", "vibration", "mm/s",
               (0.0, 4.5), object_name, point=(50.0, 20.0, 0.0), limits=(0.0, 200.0),
               name="Vibration RMS"),
        Sensor("strain_bend", f"{base_topic}/strain/bend", "strain", "ustrain",
               (-800.0, 800.0), object_name, region=bend, limits=(-1e5, 1e5),
               name="Bend strain"),
    ]
    props = [TwinProperty("speed", "rpm", minimum=0.0, maximum=3000.0)]
    return TwinConfig("Pump on bracket", base_topic, s, props)


@dataclass
class PumpAsset:
    """Deterministic (seeded) sensor values as a function of time since start."""

    fault_at: float = 20.0
    seed: int = 0
    wear_life: float | None = None  # seconds to failure in wear mode
    speed: float = 1450.0
    target_speed: float = 1450.0
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def step(self, t: float, dt: float) -> dict[str, float]:
        ramp = 200.0 * dt  # rpm per step towards the commanded speed
        self.speed += float(np.clip(self.target_speed - self.speed, -ramp, ramp))
        load = self.speed / 1450.0
        fault = max(0.0, t - self.fault_at)
        n = self.rng.normal(size=5)
        if self.wear_life:
            w = min(t / self.wear_life, 1.0) ** 2
            drift = 0.002 * min(t, 300.0)  # a slow warm-up that levels off
            return {
                "temp_bend": 40.0 + drift + 12.0 * w + 0.05 * n[0],
                "temp_foot": 38.0 + drift + 3.0 * w + 0.05 * n[1],
                "temp_top": 36.0 + drift + 0.05 * n[2],
                "vibration": max(0.0, (2.0 + 0.3 * math.sin(0.7 * t)) * load + 6.0 * w
                                 + 0.05 * n[3]),
                "strain_bend": 300.0 * load + 50.0 * math.sin(2 * math.pi * t / 10.0)
                + 5.0 * n[4],
            }
        return {
            "temp_bend": 40.0 + 0.02 * t + 0.8 * fault + 0.05 * n[0],
            "temp_foot": 38.0 + 0.02 * t + 0.1 * fault + 0.05 * n[1],
            "temp_top": 36.0 + 0.015 * t + 0.05 * n[2],
            "vibration": max(0.0, (2.0 + 0.3 * math.sin(0.7 * t)) * load
                             + (5.5 if fault > 0 else 0.0) + 0.05 * n[3]),
            "strain_bend": 300.0 * load + 50.0 * math.sin(2 * math.pi * t / 10.0) + 5.0 * n[4],
        }

    def command(self, payload: bytes) -> dict:
        """Apply a speed command; the acknowledgement to publish."""
        try:
            doc = json.loads(payload)
            cid, value = int(doc["id"]), float(doc["value"])
        except (ValueError, KeyError, TypeError):
            return {"id": -1, "ok": False, "reason": "unreadable command"}
        if not 0.0 <= value <= 3000.0:
            return {"id": cid, "ok": False, "reason": "speed out of range", "value": self.speed}
        self.target_speed = value
        return {"id": cid, "ok": True, "value": value}


def stylus_pose(t: float, centre: Sequence[float] = (0.0, 0.0, 0.0), radius: float = 40.0,
                period: float = 8.0) -> np.ndarray:
    """A stylus circling the target and descending towards it, tip pointing down (-z)."""
    a = 2 * math.pi * t / period
    phase = (t % (4 * period)) / (4 * period)
    r = radius * (1.0 - 0.8 * phase)
    m = np.eye(4)
    m[:3, :3] = np.diag([1.0, -1.0, -1.0])  # tool z points down: shaft above the tip
    m[:3, 3] = np.asarray(centre) + (r * math.cos(a), r * math.sin(a), 60.0 * (1 - phase) + 5)
    return m


def ultrasound_frame(t: float, rows: int = 64, cols: int = 64) -> wire.ImageFrame:
    rng = np.random.default_rng(int(t * 10))
    y, x = np.mgrid[0:rows, 0:cols]
    blob = 180 * np.exp(-((x - cols / 2 - 10 * math.sin(t)) ** 2 + (y - rows / 2) ** 2) / 60.0)
    speckle = rng.gamma(2.0, 20.0, size=(rows, cols))
    px = np.clip(blob + speckle, 0, 255).astype(np.uint8)[None]
    m = np.eye(4)
    m[:3, :3] *= 0.5
    m[:3, 3] = (-16.0, -16.0, 0.0)
    return wire.ImageFrame(px, m)


@dataclass
class SimulationStats:
    duration_s: float = 0.0
    telemetry_published: int = 0
    commands_acknowledged: int = 0
    poses_sent: int = 0
    images_sent: int = 0
    strings_received: int = 0
    igtl_peers: int = 0


def run(mqtt_link: MqttLink | None = None, igtl: IgtlServer | None = None, duration: float = 30.0,
        telemetry_hz: float = 10.0, pose_hz: float = 60.0, image_hz: float = 2.0,
        fault_at: float = 20.0, seed: int = 0, base_topic: str = BASE_TOPIC,
        stop: threading.Event | None = None, wear_life: float | None = None,
        gauges: object | None = None) -> SimulationStats:
    """Publish the asset and the instrument until ``duration`` elapses or ``stop`` is set
    (``wear_life``: degrade slowly and fail after that many seconds instead of a fault;
    ``gauges``: a :class:`sim.asset.truth.LiveGauges`, the bracket's gauges through its FE
    model)."""
    stop = stop or threading.Event()
    stats = SimulationStats()
    asset = PumpAsset(fault_at=fault_at, seed=seed, wear_life=wear_life)
    config = demo_config(base_topic)
    if mqtt_link is not None:
        def on_command(topic: str, payload: bytes) -> None:
            ack = asset.command(payload)
            mqtt_link.publish(f"{base_topic}/ack", json.dumps(ack).encode())
            stats.commands_acknowledged += 1

        mqtt_link.on_message = on_command
        mqtt_link.subscribe(f"{base_topic}/cmd/#")
    if igtl is not None:
        def on_string(msg: wire.Message) -> None:
            if msg.type == "STRING":
                stats.strings_received += 1

        igtl.on_message = on_string
    t0 = time.perf_counter()
    due = {"tel": 0.0, "pose": 0.0, "img": 0.0}
    last_tel = 0.0
    while not stop.is_set():
        t = time.perf_counter() - t0
        if t >= duration:
            break
        if mqtt_link is not None and t >= due["tel"]:
            values = asset.step(t, t - last_tel)
            last_tel = t
            now = time.time()
            for s in config.sensors:
                body = json.dumps({"value": round(values[s.id], 4), "unit": s.unit, "t": now})
                mqtt_link.publish(s.topic, body.encode())
                stats.telemetry_published += 1
            if gauges is not None:
                for s, v in zip(gauges.sensors(), gauges.values(t, asset.speed).values(),
                                strict=True):
                    body = json.dumps({"value": round(v, 5), "unit": s.unit, "t": now})
                    mqtt_link.publish(s.topic, body.encode())
                    stats.telemetry_published += 1
            mqtt_link.publish(f"{base_topic}/reported/speed",
                              json.dumps({"value": round(asset.speed, 2)}).encode())
            due["tel"] += 1.0 / telemetry_hz
        if igtl is not None and t >= due["pose"]:
            if igtl.send(wire.encode_transform("StylusToTracker", stylus_pose(t))):
                stats.poses_sent += 1
            due["pose"] += 1.0 / pose_hz
        if igtl is not None and image_hz > 0 and t >= due["img"]:
            if igtl.send(wire.encode_image("Image_Reference", ultrasound_frame(t))):
                stats.images_sent += 1
            due["img"] += 1.0 / image_hz
        active = [due["tel"]] if mqtt_link is not None else []
        if igtl is not None:
            active += [due["pose"], due["img"]] if image_hz > 0 else [due["pose"]]
        wait = (min(active) if active else duration) - (time.perf_counter() - t0)
        if wait > 0:
            stop.wait(min(wait, 0.05))
    stats.duration_s = round(time.perf_counter() - t0, 3)
    stats.igtl_peers = igtl.peers if igtl is not None else 0
    return stats


def wear_fleet(units: int = 30, seed: int = 0, life: tuple[float, float] = (150.0, 400.0),
               rate_hz: float = 10.0, step: float = 1.0) -> Fleet:
    """Run-to-failure histories of ``units`` pumps in wear mode (a :class:`Fleet`): each lives
    a random time in ``life`` seconds and may start partly worn; readings at ``rate_hz`` are
    averaged over ``step`` seconds, as the live monitor does."""
    from sim.predict.fleet import Fleet

    rng = np.random.default_rng(seed)
    ids = [s.id for s in demo_config().sensors]
    unit, times, rows = [], [], []
    for u in range(units):
        total = float(rng.uniform(*life))
        start = float(rng.uniform(0.0, 0.3)) * total  # seconds of wear already behind it
        asset = PumpAsset(fault_at=math.inf, seed=seed * 1000 + u, wear_life=total)
        per = max(1, int(round(rate_hz * step)))
        n_rows = int((total - start) / step)
        for k in range(n_rows):
            acc = np.zeros(len(ids))
            for j in range(per):
                t = start + k * step + j / rate_hz
                v = asset.step(t, 1.0 / rate_hz)
                acc += [v[i] for i in ids]
            unit.append(f"pump{u + 1}")
            times.append((k + 1) * step)
            rows.append(acc / per)
    return Fleet(np.array(unit), np.array(times), np.array(rows), ids, [], "demo pump fleet")
