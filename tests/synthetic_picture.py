"""A seeded synthetic coalition picture of any number of moving tracks, for the page's benchmark
(bench/bench_cop.py) and the dense-picture browser test.

``n`` system tracks in each of three nations' coalition pictures over ``steps`` one-second steps,
with every column of `kizuna.recording.PICTURE_SCHEMA`. Tracks start uniform over the demo region
(−30…46° N, 110…165° E); 80 % air (0–13 km, 150–280 m/s), 15 % missile (20–120 km, 1–3 km/s), 5 %
space (400–600 km, 7.5 km/s); headings uniform; positions advance along their heading every step
(flat-Earth steps, fine for a page load); σ 50–3,000 m per axis; pedigree a random non-empty
subset of USA+JPN+AUS.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kizuna.cop.store import PictureStore
from kizuna.frames import geodetic_to_ecef

NATIONS = ("USA", "JPN", "AUS")


def synthetic_store(n: int, steps: int = 120, seed: int = 7) -> PictureStore:
    rng = np.random.default_rng(seed)
    cat = rng.choice(["air", "missile", "space"], size=n, p=[0.8, 0.15, 0.05])
    lat0 = rng.uniform(-30, 46, n)
    lon0 = rng.uniform(110, 165, n)
    alt = np.select(
        [cat == "air", cat == "missile"],
        [rng.uniform(0, 13e3, n), rng.uniform(20e3, 120e3, n)],
        rng.uniform(400e3, 600e3, n),
    )
    kinds = [cat == "air", cat == "missile"]
    speed = np.select(kinds, [rng.uniform(150, 280, n), rng.uniform(1e3, 3e3, n)], 7500.0)
    heading = rng.uniform(0, 2 * np.pi, n)
    sigma = rng.uniform(50, 3000, (n, 3))
    ped_code = rng.integers(1, 8, n)
    names = ["+".join(c for i, c in enumerate(NATIONS) if code >> i & 1) for code in range(8)]
    pedigree = np.array(names)[ped_code]
    reporter = np.array([p.split("+")[0] for p in pedigree])
    frames = []
    for k in range(steps):
        lat = lat0 + np.degrees(speed * np.cos(heading) * k / 6_371_000.0)
        lon = lon0 + np.degrees(speed * np.sin(heading) * k / (6_371_000.0 * np.cos(np.radians(lat0))))
        pos = geodetic_to_ecef(np.radians(lat), np.radians(lon), alt)
        frames.append(pd.DataFrame({
            "time_s": float(k), "track_id": np.arange(n) + 1_000_000_001, "status": "confirmed",
            "x_m": pos[:, 0], "y_m": pos[:, 1], "z_m": pos[:, 2],
            "vx_m_per_s": speed * np.cos(heading), "vy_m_per_s": speed * np.sin(heading), "vz_m_per_s": 0.0,
            "lat_deg": lat, "lon_deg": lon, "alt_m": alt,
            "sigma_x_m": sigma[:, 0], "sigma_y_m": sigma[:, 1], "sigma_z_m": sigma[:, 2],
            "sigma_vx_m_per_s": 5.0, "sigma_vy_m_per_s": 5.0, "sigma_vz_m_per_s": 5.0,
            "quality": 9, "category": cat, "pedigree": pedigree,
            "n_sources": [p.count("+") + 1 for p in pedigree], "reporter": reporter,
        }))  # fmt: skip
    picture = pd.concat(frames, ignore_index=True)
    scenario = {
        "scenario": {
            "name": f"synthetic {n} tracks", "nations": [{"code": c, "name": c} for c in NATIONS],
            "step_s": 1.0, "duration_s": float(steps - 1), "sensors": [], "release": [],
            "region": {"lat_min_deg": -30.0, "lat_max_deg": 46.0, "lon_min_deg": 110.0, "lon_max_deg": 165.0},
        },
        "derived": {"epoch_utc": "2027-03-01T02:00:00+00:00"},
    }  # fmt: skip
    store = PictureStore(scenario)
    for nation in NATIONS:
        store.append(f"picture_{nation}", picture)
    return store
