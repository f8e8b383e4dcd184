"""The COP server: a Starlette app with a JSON API, a WebSocket stream of picture deltas, and the page.

Routes (all on the one host the server binds, 127.0.0.1 by default):

* ``/`` the page; ``/static/…`` its own files; ``/vendor/<package>/…`` the web packages installed by
  ``npm ci`` in ``web/`` (MapLibre GL, milsymbol, topojson-client, world-atlas, CesiumJS);
* ``GET /api/info`` scenario, nations, epoch, step, time span, live or replay;
* ``GET /api/tracks?nation=&view=&t=`` one view's tracks at a time (`kizuna.cop.store`);
* ``GET /api/track/{number}?nation=&view=`` one track's detail: held intervals in this view and in
  every nation's coalition picture, pedigree / reporter / quality changes, release marking;
* ``GET /api/sensors`` sensor sites and coverage as GeoJSON; ``GET /api/satellites`` the LEO layer's
  positions sampled every `SATELLITE_SAMPLE_S`;
* ``GET /api/history?nation=&category=missile`` whole trajectories (the globe draws them in altitude);
* ``WS /ws`` the picture stream (`_Session`).

The stream: the page sends ``{"op": "subscribe", "nation", "view", "t", "playing", "speed"}`` (on
every connect, so a reconnecting page resumes where it was), ``seek``, ``play``, ``pause``,
``speed``, ``view`` and ``live``. The server answers with one ``snapshot`` (every track and its
trail), then ``delta`` messages at each new step carrying only the tracks whose record changed and
the numbers that went away, and ``clock`` messages (~4 Hz) with the time and span.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from kizuna.cop.store import VIEWS, PictureStore, View, track_records
from kizuna.network.messages import CATEGORIES, SOURCE_BITS
from kizuna.network.release import ReleasePolicy
from kizuna.scenario.schema import ReleaseRule

__all__ = ["WebAssetsMissing", "create_app", "serve_in_thread", "web_modules"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
SATELLITE_SAMPLE_S = 10.0
TICK_S = 0.25
VENDOR = {
    "maplibre-gl": "maplibre-gl/dist",
    "milsymbol": "milsymbol/dist",
    "topojson-client": "topojson-client/dist",
    "world-atlas": "world-atlas",
    "cesium": "cesium/Build/Cesium",
}
"""URL prefix under /vendor/ → folder under web/node_modules."""
_json = msgspec.json.Encoder()


class WebAssetsMissing(RuntimeError):
    """The page's npm packages are not installed."""


def web_modules() -> Path:
    """``web/node_modules`` of this checkout, or ``$KIZUNA_WEB_MODULES``."""
    env = os.environ.get("KIZUNA_WEB_MODULES")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "web" / "node_modules"
    missing = [pkg for pkg, sub in VENDOR.items() if not (root / sub).is_dir()]
    if missing:
        raise WebAssetsMissing(
            f"the COP's web packages are not installed ({', '.join(missing)} missing under {root}); "
            "run `make setup` (it runs `npm ci` in web/)"
        )
    return root


def _json_response(payload: Any, status_code: int = 200) -> Response:
    return Response(_json.encode(payload), status_code=status_code, media_type="application/json")


def _error(message: str, status_code: int = 400) -> Response:
    return JSONResponse({"error": message}, status_code=status_code)


def _intervals(times: np.ndarray, step_s: float) -> list[list[float]]:
    """Runs of consecutive steps as [start, end] pairs."""
    if not len(times):
        return []
    times = np.unique(times)
    breaks = np.flatnonzero(np.diff(times) > 1.5 * step_s)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(times) - 1]])
    return [[float(times[a]), float(times[b])] for a, b in zip(starts, ends, strict=True)]


def _geodesic_point(lat_deg: float, lon_deg: float, az_deg: float, dist_m: float) -> list[float]:
    """Destination on a sphere of the mean Earth radius: enough for drawing coverage."""
    r = 6_371_008.8
    lat1, lon1, az = map(math.radians, (lat_deg, lon_deg, az_deg))
    d = dist_m / r
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(az))
    y = math.sin(az) * math.sin(d) * math.cos(lat1)
    lon2 = lon1 + math.atan2(y, math.cos(d) - math.sin(lat1) * math.sin(lat2))
    return [round((math.degrees(lon2) + 540.0) % 360.0 - 180.0, 4), round(math.degrees(lat2), 4)]


def _sector(lat: float, lon: float, boresight: float, width: float, near_m: float, far_m: float) -> list:
    """Ring of a coverage sector (a full annulus or disc when ``width`` is 360°)."""
    n = max(8, int(width / 3))
    azs = [boresight - width / 2 + width * i / n for i in range(n + 1)]
    outer = [_geodesic_point(lat, lon, a, far_m) for a in azs]
    if width >= 360.0:
        return [outer] if near_m <= 0 else [outer, [_geodesic_point(lat, lon, a, near_m) for a in azs[::-1]]]
    inner = [_geodesic_point(lat, lon, a, near_m) for a in azs[::-1]] if near_m > 0 else [[lon, lat]]
    ring = outer + inner
    return [[*ring, ring[0]]]


def sensors_geojson(scenario: dict[str, Any]) -> dict[str, Any]:
    """Sites, ship routes and coverage sectors of the scenario's surface sensors."""
    features: list[dict[str, Any]] = []
    for sensor in scenario["scenario"].get("sensors", []):
        kind = sensor.get("kind")
        props = {"id": sensor["id"], "nation": sensor.get("nation", ""), "kind": kind}
        if kind == "ship_radar":
            route = sensor["route"]
            site = {"lat_deg": route[0]["lat_deg"], "lon_deg": route[0]["lon_deg"]}
            if len(route) > 1:
                line = [[p["lon_deg"], p["lat_deg"]] for p in route]
                features.append({"type": "Feature", "properties": {**props, "role": "route"},
                                 "geometry": {"type": "LineString", "coordinates": line}})  # fmt: skip
        elif "site" in sensor:
            site = sensor["site"]
        else:
            continue  # space sensors: their satellites are the satellites layer
        lat, lon = site["lat_deg"], site["lon_deg"]
        features.append({"type": "Feature", "properties": {**props, "role": "site"},
                         "geometry": {"type": "Point", "coordinates": [lon, lat]}})  # fmt: skip
        if kind == "oth_radar":
            near, far = sensor["min_ground_range_m"], sensor["max_ground_range_m"]
        else:
            near, far = sensor.get("min_range_m", 0.0), sensor["max_range_m"]
        rings = _sector(lat, lon, sensor.get("boresight_az_deg", 0.0), sensor.get("sector_width_deg", 360.0),
                        near, far)  # fmt: skip
        features.append({"type": "Feature", "properties": {**props, "role": "coverage"},
                         "geometry": {"type": "Polygon", "coordinates": rings}})  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def satellites_payload(satellites: pd.DataFrame | None) -> dict[str, Any]:
    """The LEO layer's sub-satellite points and altitudes every `SATELLITE_SAMPLE_S`."""
    if satellites is None or not len(satellites):
        return {"times": [], "satellites": []}
    t = satellites["time_s"].to_numpy()
    keep = np.isclose(np.mod(t + 1e-6, SATELLITE_SAMPLE_S), 0.0, atol=1e-3)
    rows = satellites[keep]
    times = np.unique(rows["time_s"].to_numpy())
    out = []
    for sat_id, group in rows.groupby("satellite_id", sort=True):
        group = group.sort_values("time_s")
        if len(group) != len(times):
            continue
        out.append({
            "id": str(sat_id),
            "constellation": str(group["constellation_id"].iloc[0]),
            "lon": np.round(group["lon_deg"].to_numpy(), 4).tolist(),
            "lat": np.round(group["lat_deg"].to_numpy(), 4).tolist(),
            "alt": np.round(group["alt_m"].to_numpy()).tolist(),
        })  # fmt: skip
    return {"times": times.tolist(), "satellites": out}


def release_marking(scenario: dict[str, Any], pedigree: str, category: str) -> str:
    """``REL TO …``: the nations every contributor releases this category to, counting every
    sensor kind the contributor has (the picture records contributing nations, not their sensor
    kinds, so the marking is the conservative one)."""
    s = scenario["scenario"]
    nations = [n["code"] for n in s["nations"]]
    try:
        rules = [ReleaseRule.model_validate(r) for r in s.get("release", [])]
        policy = ReleasePolicy(nations, rules)
    except ValueError:
        return "REL TO (unknown)"
    kinds: dict[str, int] = dict.fromkeys(nations, 0)
    for sensor in s.get("sensors", []):
        if sensor.get("nation") in kinds:
            kinds[sensor["nation"]] |= SOURCE_BITS.get(sensor.get("kind", ""), 0)
    contributors = [c for c in pedigree.split("+") if c in kinds]
    ped = np.zeros((1, len(nations)), dtype=np.uint8)
    for c in contributors:
        ped[0, nations.index(c)] = kinds[c] or SOURCE_BITS["radar"]
    cat = CATEGORIES.index(category) if category in CATEGORIES else 0
    audience = policy.audience(ped, np.array([cat]))[0]
    return "REL TO " + ", ".join(n for n, ok in zip(nations, audience, strict=True) if ok)


@dataclass
class _Session:
    """One page's stream: its view, clock and what it was last sent."""

    nation: str
    view: str = "coalition"
    t: float = 0.0
    playing: bool = False
    speed: float = 1.0
    follow_live: bool = True
    sent_step: float | None = None
    resync: bool = True


def _track_detail(store: PictureStore, view: View, number: int) -> dict[str, Any] | None:
    rows = store.history(view, number)
    if not len(rows):
        return None
    times = rows["time_s"].to_numpy()
    held_by = {}
    for nation in store.nations:
        other = store.history(View(nation, "coalition"), number)
        held_by[nation] = _intervals(other["time_s"].to_numpy(), store.step_s)
    changes = []
    last: tuple[Any, ...] | None = None
    for t, ped, rep, q, st in zip(
        times,
        rows["pedigree"] if "pedigree" in rows else [view.nation] * len(rows),
        rows["reporter"] if "reporter" in rows else [view.nation] * len(rows),
        rows["quality"].to_numpy().astype(int),
        rows["status"],
        strict=True,
    ):
        key = (ped, rep, st)
        if key != last:
            changes.append({"t": float(t), "ped": str(ped), "rep": str(rep), "q": int(q), "st": str(st)})
            last = key
    latest = track_records(rows.iloc[[-1]])[0]
    return {
        "id": number,
        "nation": view.nation,
        "view": view.view,
        "first_s": float(times[0]),
        "last_s": float(times[-1]),
        "held": _intervals(times, store.step_s),
        "held_by": held_by,
        "changes": changes[-50:],
        "latest": latest,
        "release": release_marking(store.scenario, latest["ped"] or view.nation, latest["cat"]),
    }


def create_app(store: PictureStore, modules: Path | None = None) -> Starlette:
    """The COP app over ``store``; ``modules`` is ``web/node_modules`` (`web_modules`)."""
    modules = modules if modules is not None else web_modules()
    scenario = store.scenario
    s = scenario["scenario"]
    sensors = sensors_geojson(scenario)
    satellites_cache: dict[str, Any] = {}  # rows seen -> payload

    def view_of(request: Request) -> View:
        nation = request.query_params.get("nation", store.default_nation)
        view = request.query_params.get("view", "coalition")
        if nation not in store.nations or view not in VIEWS:
            raise KeyError(
                f"unknown nation/view {nation!r}/{view!r}: nations {store.nations}, views {list(VIEWS)}"
            )
        return View(nation, view)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def info(request: Request) -> Response:
        t0, t1 = store.time_range()
        return _json_response({
            "name": s.get("name", ""),
            "description": s.get("description", ""),
            "epoch_utc": store.epoch_utc,
            "nations": [{"code": n["code"], "name": n.get("name", n["code"])} for n in s["nations"]],
            "default_nation": store.default_nation,
            "step_s": store.step_s,
            "duration_s": store.duration_s,
            "t0": t0,
            "t1": t1,
            "live": store.live,
            "region": s.get("region"),
            "views": list(VIEWS),
        })  # fmt: skip

    async def tracks(request: Request) -> Response:
        try:
            view = view_of(request)
            t = float(request.query_params.get("t", store.time_range()[1]))
        except (KeyError, ValueError) as exc:
            return _error(str(exc))
        return _json_response({"t": t, "tracks": track_records(store.at(view, t))})

    async def track(request: Request) -> Response:
        try:
            view = view_of(request)
            number = int(request.path_params["number"])
        except (KeyError, ValueError) as exc:
            return _error(str(exc))
        detail = _track_detail(store, view, number)
        if detail is None:
            return _error(f"no track {number} in {view.nation}'s {view.view} picture", 404)
        return _json_response(detail)

    async def history(request: Request) -> Response:
        try:
            view = view_of(request)
        except KeyError as exc:
            return _error(str(exc))
        category = request.query_params.get("category", "missile")
        t0, t1 = store.time_range()
        rows = store.between(view, t0, t1)
        rows = rows[rows["category"].to_numpy() == category]
        out = {}
        for number, group in rows.groupby("track_id", sort=True):
            out[int(number)] = {
                "t": group["time_s"].to_numpy().tolist(),
                "lon": np.round(group["lon_deg"].to_numpy(), 4).tolist(),
                "lat": np.round(group["lat_deg"].to_numpy(), 4).tolist(),
                "alt": np.round(group["alt_m"].to_numpy()).tolist(),
            }
        return _json_response({"category": category, "tracks": out})

    async def sensors_route(request: Request) -> Response:
        return _json_response(sensors)

    async def satellites(request: Request) -> Response:
        rows = store.satellites
        key = 0 if rows is None else len(rows)
        if satellites_cache.get("rows") != key:
            satellites_cache.update(rows=key, payload=satellites_payload(rows))
        return _json_response(satellites_cache["payload"])

    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        session = _Session(nation=store.default_nation)
        sent: dict[int, dict[str, Any]] = {}
        closed = asyncio.Event()
        wake = asyncio.Event()  # a page message is answered at once, not at the next tick

        async def receive() -> None:
            try:
                while True:
                    message = await websocket.receive_json()
                    _apply(session, message, store)
                    wake.set()
            except (WebSocketDisconnect, RuntimeError, ValueError):
                closed.set()
                wake.set()

        # the page says what it wants first; a silent client gets the default view after 1 s
        try:
            _apply(session, await asyncio.wait_for(websocket.receive_json(), 1.0), store)
        except TimeoutError:
            pass
        except (WebSocketDisconnect, RuntimeError, ValueError):
            return
        reader = asyncio.create_task(receive())
        try:
            while not closed.is_set():
                await _tick(websocket, session, sent, store)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), TICK_S)
                wake.clear()
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            reader.cancel()

    routes = [
        Route("/", index),
        Route("/api/info", info),
        Route("/api/tracks", tracks),
        Route("/api/track/{number}", track),
        Route("/api/history", history),
        Route("/api/sensors", sensors_route),
        Route("/api/satellites", satellites),
        WebSocketRoute("/ws", stream),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *[Mount(f"/vendor/{name}", StaticFiles(directory=modules / sub)) for name, sub in VENDOR.items()],
    ]
    return Starlette(routes=routes)


def _apply(session: _Session, message: dict[str, Any], store: PictureStore) -> None:
    """Apply one page message to its session."""
    op = message.get("op")
    if op in ("subscribe", "view"):
        nation = message.get("nation", session.nation)
        view = message.get("view", session.view)
        if nation in store.nations and view in VIEWS:
            session.nation, session.view = nation, view
        session.resync = True
    if op == "subscribe":
        session.follow_live = bool(message.get("live", store.live))
        if "t" in message and message["t"] is not None and not session.follow_live:
            session.t = float(message["t"])
        session.playing = bool(message.get("playing", False))
        session.speed = float(message.get("speed", session.speed))
    elif op == "seek":
        session.t = float(message["t"])
        session.follow_live = False
        session.resync = True
    elif op == "play":
        session.playing = True
        if "speed" in message:
            session.speed = float(message["speed"])
    elif op == "pause":
        session.playing = False
    elif op == "speed":
        session.speed = float(message["speed"])
    elif op == "live":
        session.follow_live = True
        session.resync = True


async def _tick(
    websocket: WebSocket, session: _Session, sent: dict[int, dict[str, Any]], store: PictureStore
) -> None:
    """Advance the session's clock and send what changed."""
    t0, t1 = store.time_range()
    if store.live and session.follow_live:
        session.t = t1
    elif session.playing:
        session.t += session.speed * TICK_S
        if session.t >= t1 and not store.live:
            session.t, session.playing = t1, False
    session.t = min(max(session.t, t0), t1) if t1 > t0 or store.live else session.t
    step = math.floor(session.t / store.step_s + 1e-9) * store.step_s
    view = View(session.nation, session.view)
    if session.resync or step != session.sent_step:
        rows = store.at(view, session.t)
        records = {r["id"]: r for r in track_records(rows)}
        if session.resync:
            ids = np.fromiter(records.keys(), dtype=np.int64, count=len(records))
            trails = store.trails(view, session.t, ids)
            await websocket.send_bytes(_json.encode({
                "type": "snapshot", "t": session.t, "nation": view.nation, "view": view.view,
                "tracks": list(records.values()), "trails": {str(k): v for k, v in trails.items()},
            }))  # fmt: skip
        else:
            upsert = [r for k, r in records.items() if sent.get(k) != r]
            remove = [k for k in sent if k not in records]
            await websocket.send_bytes(_json.encode({
                "type": "delta", "t": session.t, "nation": view.nation, "view": view.view,
                "upsert": upsert, "remove": remove,
            }))  # fmt: skip
        sent.clear()
        sent.update(records)
        session.sent_step = step
        session.resync = False
    await websocket.send_bytes(_json.encode({
        "type": "clock", "t": session.t, "t0": t0, "t1": t1, "playing": session.playing,
        "speed": session.speed, "live": store.live and session.follow_live,
    }))  # fmt: skip


@contextlib.contextmanager
def serve_in_thread(store: PictureStore, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the COP server in a background thread; yields its base URL, stops on exit."""
    import uvicorn

    app = create_app(store)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", ws="websockets-sansio",
                            lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="kizuna-cop", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise OSError(f"the COP server could not start on {host}:{port}")
        threading.Event().wait(0.02)
    bound = server.servers[0].sockets[0].getsockname()
    try:
        yield f"http://{bound[0]}:{bound[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=5.0)
