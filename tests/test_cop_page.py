"""The COP page in Debian's Chromium: it draws the picture the server holds, switches nation and
view, seeks, sorts and filters, shows a track's detail, reconnects after losing its server, and
never requests anything off 127.0.0.1. Screenshots go to out/test-artifacts/."""

from __future__ import annotations

import io
import math
import socket
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from browser import open_page, save_screenshot
from matplotlib.image import imread
from synthetic_picture import synthetic_store
from test_simulation import loaded, small_scenario

from kizuna.cop.server import serve_in_thread
from kizuna.cop.store import PictureStore
from kizuna.simulation import run

pytestmark = pytest.mark.slow
READY_MS = 30_000
SYMBOL_RGB = np.array([255, 255, 128]) / 255.0  # milsymbol's fill for an unknown track


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cop-page")
    out = tmp / "rec"
    run(loaded(small_scenario(tmp, duration_s=240.0, civil_count=30)), out)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def page_ids(page) -> list[int]:
    return sorted(page.evaluate("[...window.kizuna.tracks.keys()]"))


def api_ids(url: str, nation: str, view: str, t: float) -> list[int]:
    params = {"nation": nation, "view": view, "t": t}
    return sorted(r["id"] for r in httpx.get(f"{url}/api/tracks", params=params).json()["tracks"])


def wait_for_time(page, t: float) -> None:
    page.wait_for_function("t => window.kizuna.pictureTime === t", arg=t, timeout=10_000)


def isolated_track(page, box: dict) -> dict:
    """The track drawn farthest from any other, clear of the map's controls (top and bottom left)."""
    every = page.evaluate("ids => window.kizuna.project(ids)", page_ids(page))
    inside = [p for p in every if 60 < p["x"] < box["width"] - 15 and 15 < p["y"] < box["height"] - 40]
    assert inside, "no track inside the map"

    def gap(p: dict) -> float:
        return min((math.hypot(p["x"] - q["x"], p["y"] - q["y"]) for q in every if q is not p), default=1e9)

    target = max(inside, key=gap)
    assert gap(target) > 12, "every track is under another's symbol"
    return target


def symbol_drawn_at(shot: np.ndarray, box: dict, p: dict, half: int = 8) -> bool:
    x, y = int(box["x"] + p["x"]), int(box["y"] + p["y"])
    patch = shot[max(y - half, 0) : y + half + 1, max(x - half, 0) : x + half + 1]
    return bool(np.any(np.all(np.abs(patch - SYMBOL_RGB) < 0.08, axis=-1)))


def test_the_page_draws_the_picture_and_follows_the_user(recording: Path, tmp_path: Path) -> None:
    picture = pd.read_parquet(recording / "picture_JPN.parquet")
    t = float(picture.groupby("time_s").size().idxmax())
    store = PictureStore.from_recording(recording)
    port = free_port()
    with open_page(tmp_path) as (page, log):
        with serve_in_thread(store, port=port) as url:
            page.goto(f"{url}/?nation=JPN&view=coalition&t={t}")
            page.wait_for_function("window.kizuna && window.kizuna.ready", timeout=READY_MS)
            wait_for_time(page, t)
            assert page_ids(page) == sorted(picture.loc[picture["time_s"] == t, "track_id"])
            save_screenshot(page, "cop-map")

            # symbols are drawn where the tracks are: the milsymbol fill colour near each position
            shot = imread(io.BytesIO(page.screenshot()), format="png")[:, :, :3]
            box = page.locator("#map").bounding_box()
            ids = page_ids(page)[:5]
            positions = page.evaluate("ids => window.kizuna.project(ids)", ids)
            on_map = [p for p in positions if 0 <= p["x"] < box["width"] and 0 <= p["y"] < box["height"]]
            assert sum(symbol_drawn_at(shot, box, p) for p in on_map) >= min(3, len(on_map))
            # and the open sea far from any track is not symbol-coloured
            corner = shot[int(box["y"]) + 5 : int(box["y"]) + 25, int(box["x"] + box["width"]) - 30 :]
            assert not np.any(np.all(np.abs(corner - SYMBOL_RGB) < 0.08, axis=-1))

            # a click on a track's symbol opens that track's detail
            target = isolated_track(page, box)
            page.mouse.click(box["x"] + target["x"], box["y"] + target["y"])
            page.wait_for_function(
                "id => document.querySelector('#detail-id').textContent.includes(String(id))",
                arg=target["id"],
                timeout=10_000,
            )

            # own sensors only, then another nation's coalition picture
            page.click("#view-own")
            page.wait_for_function("window.kizuna.messages.snapshot >= 2")
            page.wait_for_function(
                "ids => JSON.stringify([...window.kizuna.tracks.keys()].sort()) === JSON.stringify(ids)",
                arg=sorted(api_ids(url, "JPN", "own", t)),
                timeout=10_000,
            )
            page.select_option("#nation", "USA")
            page.click("#view-coalition")
            page.wait_for_function(
                "ids => JSON.stringify([...window.kizuna.tracks.keys()].sort()) === JSON.stringify(ids)",
                arg=sorted(api_ids(url, "USA", "coalition", t)),
                timeout=10_000,
            )

            # seek: the picture of another time arrives (seek time printed, not asserted)
            t2 = float(np.sort(picture["time_s"].unique())[10])
            started = time.perf_counter()
            page.evaluate("t => window.kizuna.send({op: 'seek', t})", t2)
            wait_for_time(page, t2)
            print(f"seek to {t2} s: picture in {1000 * (time.perf_counter() - started):.0f} ms")
            assert page_ids(page) == api_ids(url, "USA", "coalition", t2)
            page.evaluate("t => window.kizuna.send({op: 'seek', t})", t)
            wait_for_time(page, t)

            # table: filter and sort
            records = page.evaluate("[...window.kizuna.tracks.values()]")
            expected = sorted(r["id"] for r in records if "JPN" in r["ped"] + r["rep"])
            assert 0 < len(expected) < len(records)
            page.fill("#filter", "jpn")
            page.wait_for_timeout(300)
            shown = page.locator("#tracks tbody td:nth-child(1)").all_inner_texts()
            assert sorted(int(v) for v in shown) == expected
            page.fill("#filter", "")
            page.click('#tracks th[data-key="alt"]')
            page.wait_for_timeout(300)
            alts = [float(v) for v in page.locator("#tracks tbody td:nth-child(3)").all_inner_texts()]
            assert alts == sorted(alts)

            # detail: a row click shows pedigree, release marking and custody per nation
            page.locator("#tracks tbody tr").first.click()
            page.wait_for_function("document.querySelector('#detail-body dl') !== null", timeout=10_000)
            detail = page.inner_text("#detail")
            assert "REL TO" in detail and "Pedigree" in detail
            assert page.locator("#detail .custody svg").count() == 4  # three nations + this picture
            save_screenshot(page, "cop-detail")

            # the 3-D globe draws the same picture, then gives the map back
            page.click("#view3d")
            page.wait_for_function("window.kizuna.globeReady === true", timeout=120_000)
            page.wait_for_function("window.kizuna.globe.tracks === window.kizuna.tracks.size", timeout=10_000)
            save_screenshot(page, "cop-globe-page")
            page.click("#view3d")
            assert page.locator("#globe").is_hidden()
            before = page.evaluate("window.kizuna.messages.snapshot")

        # the server goes away and comes back on the same port: the page reconnects and resumes
        page.wait_for_function("!document.querySelector('#conn').classList.contains('ok')", timeout=10_000)
        with serve_in_thread(PictureStore.from_recording(recording), port=port):
            page.wait_for_function(
                "n => window.kizuna.messages.snapshot > n", arg=before, timeout=20_000
            )
            state = page.evaluate(
                "({n: kizuna.state.nation, v: kizuna.state.view, t: kizuna.pictureTime})"
            )
            assert state == {"n": "USA", "v": "coalition", "t": t}
            assert page.evaluate("window.kizuna.reconnects") >= 1

    assert log.page_errors == []
    assert [e for e in log.console_errors if "WebSocket" not in e] == []
    assert log.off_host() == []


def test_a_dense_picture_draws_every_track_small_until_zoomed_in(tmp_path: Path) -> None:
    # 1,200 tracks: over the page's dense threshold (400), so the overview draws small symbols
    # and no labels, ellipses or trails; zoomed in, full-size symbols and labels come back.
    store = synthetic_store(1200, steps=4)
    with serve_in_thread(store) as url, open_page(tmp_path) as (page, log):
        page.goto(f"{url}/?nation=JPN&t=2")
        page.wait_for_function("window.kizuna && window.kizuna.ready", timeout=READY_MS)
        wait_for_time(page, 2.0)
        assert page.evaluate("window.kizuna.tracks.size") == 1200
        assert page.evaluate("window.kizuna.dense") is True
        small = page.evaluate("window.kizuna.icons()")
        assert small["count"] == 1200 and len(small["widths"]) == 1
        assert page.evaluate("window.kizuna.map.querySourceFeatures('track-labels').length") == 0

        box = page.locator("#map").bounding_box()
        shot = imread(io.BytesIO(page.screenshot()), format="png")[:, :, :3]
        assert symbol_drawn_at(shot, box, isolated_track(page, box), half=5)
        save_screenshot(page, "cop-dense")

        # zoomed in on one track: full-size symbols, and its label is drawn
        target = isolated_track(page, box)
        page.evaluate(
            "p => { const m = window.kizuna.map; m.jumpTo({center: m.unproject([p.x, p.y]), zoom: 7}); }",
            target,
        )
        page.wait_for_function(
            "w => window.kizuna.icons().widths.every((x) => x > w)", arg=small["widths"][0], timeout=10_000
        )
        page.wait_for_function(
            "id => window.kizuna.map.querySourceFeatures('track-labels').some((f) => f.properties.id === id)",
            arg=target["id"],
            timeout=10_000,
        )
        save_screenshot(page, "cop-dense-zoomed")
    assert log.page_errors == [] and log.console_errors == []
    assert log.off_host() == []
