"""The typed schema of a scenario file.

Each class is one table of the TOML file. Field names carry their unit (`_m`, `_s`, `_deg`);
degrees exist only here, at the edge, and become radians when the scenario is used. Every field
has a description: docs/scenario-reference.md is generated from them (`kizuna schema-doc`).

Pydantic validates the whole file in one pass and reports every error with its key path, which
msgspec (first error only) cannot; see docs/decisions.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from kizuna.timebase import require_utc

__all__ = [
    "Aircraft",
    "Airport",
    "BallisticMissile",
    "CivilTraffic",
    "Constellation",
    "CruiseMissile",
    "GeoPoint",
    "GlideManoeuvre",
    "GlideVehicle",
    "Link",
    "Nation",
    "Network",
    "OthRadar",
    "Outage",
    "Radar",
    "RadarDetection",
    "Region",
    "ReleaseRule",
    "RoutePoint",
    "Scenario",
    "Sensor",
    "ShipRadar",
    "SpaceInfrared",
    "Target",
    "TleConstellation",
    "WalkerConstellation",
    "Waypoint",
]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _utc(value: dt.datetime) -> dt.datetime:
    return require_utc(value)


Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
NationCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 3166-1 alpha-3 style code")]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0)]
Longitude = Annotated[float, Field(ge=-180.0, le=360.0)]
Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


# --- Places ------------------------------------------------------------------------------------


class GeoPoint(_Table):
    """A point on the WGS-84 ellipsoid."""

    lat_deg: Latitude = Field(description="Geodetic latitude, degrees north.")
    lon_deg: Longitude = Field(description="Longitude, degrees east (values up to 360 are accepted).")
    alt_m: float = Field(0.0, ge=-500.0, le=100_000.0, description="Height above the ellipsoid, metres.")


class Region(_Table):
    """The area of interest: maps, coverage grids and civil traffic use it."""

    lat_min_deg: Latitude = Field(description="Southern edge, degrees.")
    lat_max_deg: Latitude = Field(description="Northern edge, degrees.")
    lon_min_deg: Longitude = Field(description="Western edge, degrees east.")
    lon_max_deg: Longitude = Field(
        description="Eastern edge, degrees east; use values above 180 to cross the antimeridian."
    )


class Nation(_Table):
    """A partner nation; it runs one node of the coalition picture."""

    code: NationCode = Field(description="Three-letter code, e.g. USA, JPN, AUS.")
    name: str = Field(min_length=1, description="Display name.")
    key_file: str | None = Field(
        None,
        description="The node's Ed25519 signing key (hex seed), relative to the scenario file; a live "
        "node needs it (`kizuna keygen` writes one). A simulated run without it derives keys from the seed.",
    )
    public_key_file: str | None = Field(
        None, description="The node's verify key (hex), relative to the scenario file; partners need it."
    )


# --- Sensors -----------------------------------------------------------------------------------


class RadarDetection(_Table):
    """Detection model shared by radars: the radar equation referenced to a design point.

    SNR = SNR₀ (R₀/R)⁴ (σ/σ₀), Swerling 1 target: Pd = Pfa^(1/(1+SNR)).
    """

    snr0_db: float = Field(13.0, ge=-20.0, le=60.0, description="SNR at the reference range and RCS, dB.")
    ref_range_m: Positive = Field(description="Reference range R₀ for SNR₀, metres.")
    ref_rcs_m2: Positive = Field(1.0, description="Reference radar cross-section σ₀, m².")
    pfa: float = Field(1e-6, gt=0.0, lt=1.0, description="Probability of false alarm per resolution cell.")
    false_alarms_per_scan: NonNegative = Field(
        1.0, description="Mean number of false alarms per scan (Poisson), over the surveillance volume."
    )


class _RadarCommon(_Table):
    id: Id = Field(description="Unique sensor id.")
    nation: NationCode = Field(description="Owner nation (a code from [[nations]]).")
    boresight_az_deg: float = Field(
        0.0, ge=0.0, lt=360.0, description="Centre of the azimuth sector, degrees."
    )
    sector_width_deg: float = Field(
        360.0, gt=0.0, le=360.0, description="Width of the azimuth sector, degrees (360 = all round)."
    )
    elevation_min_deg: float = Field(
        0.0, ge=-10.0, le=90.0, description="Lowest elevation searched, degrees."
    )
    elevation_max_deg: float = Field(
        90.0, ge=-10.0, le=90.0, description="Highest elevation searched, degrees."
    )
    min_range_m: NonNegative = Field(0.0, description="Minimum instrumented range, metres.")
    max_range_m: Positive = Field(description="Maximum instrumented range, metres.")
    revisit_s: Positive = Field(description="Time between two looks at the same direction, seconds.")
    sigma_range_m: Positive = Field(description="Range measurement noise (1σ), metres.")
    sigma_azimuth_deg: Positive = Field(description="Azimuth measurement noise (1σ), degrees.")
    sigma_elevation_deg: Positive = Field(description="Elevation measurement noise (1σ), degrees.")
    sigma_range_rate_m_per_s: Positive = Field(description="Range-rate measurement noise (1σ), m/s.")
    detection: RadarDetection = Field(description="Detection probability and false-alarm model.")


class Radar(_RadarCommon):
    """A fixed surface radar at a geodetic site."""

    kind: Literal["radar"] = Field(description="`radar`.")
    site: GeoPoint = Field(description="Antenna position (alt_m is the antenna height above the ellipsoid).")


class RoutePoint(_Table):
    """A point of a ship's route."""

    lat_deg: Latitude = Field(description="Latitude, degrees.")
    lon_deg: Longitude = Field(description="Longitude, degrees east.")


class ShipRadar(_RadarCommon):
    """A radar on a ship that sails a route at constant speed."""

    kind: Literal["ship_radar"] = Field(description="`ship_radar`.")
    route: list[RoutePoint] = Field(min_length=1, description="The ship's route; one point = on station.")
    speed_m_per_s: NonNegative = Field(8.0, description="Ship speed along the route, m/s.")
    antenna_height_m: NonNegative = Field(25.0, description="Antenna height above sea level, metres.")


class OthRadar(_Table):
    """A skywave over-the-horizon radar: ground range and azimuth, no altitude."""

    kind: Literal["oth_radar"] = Field(description="`oth_radar`.")
    id: Id = Field(description="Unique sensor id.")
    nation: NationCode = Field(description="Owner nation.")
    site: GeoPoint = Field(description="Receiver site.")
    boresight_az_deg: float = Field(ge=0.0, lt=360.0, description="Centre of the coverage sector, degrees.")
    sector_width_deg: float = Field(90.0, gt=0.0, le=180.0, description="Width of the sector, degrees.")
    min_ground_range_m: Positive = Field(description="Near edge of the skywave window, metres.")
    max_ground_range_m: Positive = Field(description="Far edge of the skywave window, metres.")
    revisit_s: Positive = Field(description="Revisit period, seconds (tens of seconds for OTH).")
    sigma_ground_range_m: Positive = Field(description="Ground-range noise (1σ), metres (km level).")
    sigma_azimuth_deg: Positive = Field(description="Azimuth noise (1σ), degrees.")
    sigma_range_rate_m_per_s: Positive = Field(description="Range-rate noise (1σ), m/s.")
    detection: RadarDetection = Field(description="Detection probability and false-alarm model.")


class SpaceInfrared(_Table):
    """The infrared sensors carried by every satellite of a constellation (angles-only)."""

    kind: Literal["space_ir"] = Field(description="`space_ir`.")
    id: Id = Field(description="Unique sensor id (each satellite reports as `<id>/<satellite>`).")
    nation: NationCode = Field(description="Owner nation.")
    constellation: Id = Field(description="Id of the constellation that carries the sensor.")
    field_of_regard_deg: float = Field(
        gt=0.0, le=180.0, description="Full cone angle around nadir that the sensor can point into, degrees."
    )
    frame_s: Positive = Field(description="Frame period, seconds.")
    sigma_los_urad: Positive = Field(description="Line-of-sight noise per axis (1σ), microradians.")
    threshold_space_w_per_m2: Positive = Field(
        description="Irradiance needed for detection against space / the limb, W/m²."
    )
    threshold_earth_w_per_m2: Positive = Field(
        description="Irradiance needed for detection against the Earth background (higher), W/m²."
    )
    false_alarms_per_frame: NonNegative = Field(0.5, description="Mean false alarms per satellite frame.")


Sensor = Annotated[Radar | ShipRadar | OthRadar | SpaceInfrared, Field(discriminator="kind")]


# --- Constellations ----------------------------------------------------------------------------


class WalkerConstellation(_Table):
    """A Walker-delta constellation i: T/P/F of circular orbits."""

    kind: Literal["walker"] = Field(description="`walker`.")
    id: Id = Field(description="Unique constellation id.")
    nation: NationCode = Field(description="Owner nation.")
    total: int = Field(ge=1, le=10_000, description="Total number of satellites T.")
    planes: int = Field(ge=1, description="Number of equally spaced orbital planes P (divides T).")
    phasing: int = Field(ge=0, description="Phasing parameter F, 0 ≤ F < P.")
    altitude_km: float = Field(ge=150.0, le=40_000.0, description="Circular orbit altitude, km.")
    inclination_deg: float = Field(ge=0.0, le=180.0, description="Orbit inclination, degrees.")
    raan0_deg: float = Field(
        0.0, ge=0.0, lt=360.0, description="Right ascension of the first plane, degrees."
    )


class TleConstellation(_Table):
    """Satellites from a two- or three-line element file."""

    kind: Literal["tle"] = Field(description="`tle`.")
    id: Id = Field(description="Unique constellation id.")
    nation: NationCode = Field(description="Owner nation.")
    file: str = Field(min_length=1, description="Path of the TLE file, relative to the scenario file.")


Constellation = Annotated[WalkerConstellation | TleConstellation, Field(discriminator="kind")]


# --- Targets -----------------------------------------------------------------------------------

Affiliation = Literal["hostile", "suspect", "unknown", "neutral", "friend"]


class Waypoint(_Table):
    """A waypoint with the altitude and speed to hold when reaching it."""

    lat_deg: Latitude = Field(description="Latitude, degrees.")
    lon_deg: Longitude = Field(description="Longitude, degrees east.")
    alt_m: float = Field(ge=0.0, le=30_000.0, description="Altitude above the ellipsoid, metres.")
    speed_m_per_s: float = Field(gt=0.0, le=1_500.0, description="Ground speed, m/s.")


class _WaypointTarget(_Table):
    id: Id = Field(description="Unique target id.")
    affiliation: Affiliation = Field("hostile", description="Truth affiliation (the Red force is `hostile`).")
    start_s: NonNegative = Field(0.0, description="Time the target starts along its waypoints, seconds.")
    max_bank_deg: float = Field(30.0, gt=0.0, lt=89.0, description="Bank limit in turns, degrees.")
    waypoints: list[Waypoint] = Field(min_length=2, description="Route, flown with bank-limited turns.")


class Aircraft(_WaypointTarget):
    """A crewed or uncrewed aircraft following waypoints."""

    kind: Literal["aircraft"] = Field(description="`aircraft`.")


class CruiseMissile(_WaypointTarget):
    """A cruise missile following waypoints, with an optional terminal run on its last leg."""

    kind: Literal["cruise_missile"] = Field(description="`cruise_missile`.")
    terminal: Literal["none", "sea_skim", "pop_up"] = Field(
        "none",
        description="Terminal run: `sea_skim` descends to skim_alt_m; `pop_up` climbs to pop_up_alt_m "
        "halfway through the run, then dives to the last waypoint.",
    )
    terminal_distance_m: Positive = Field(
        20_000.0,
        description="Distance before the last waypoint where the terminal run is complete "
        "(sea_skim) or begins (pop_up), metres.",
    )
    skim_alt_m: float = Field(5.0, ge=1.0, le=50.0, description="Sea-skimming height, metres.")
    pop_up_alt_m: float = Field(1_500.0, ge=100.0, le=10_000.0, description="Pop-up apex height, metres.")


class BallisticMissile(_Table):
    """A ballistic missile from a launch point to an aim point, steered to land on it (docs/truth.md).

    Range classes (generic vehicles): short 150–1,000 km (one stage), medium 600–3,000 km and
    intermediate 750–5,500 km (two stages).
    """

    kind: Literal["ballistic_missile"] = Field(description="`ballistic_missile`.")
    id: Id = Field(description="Unique target id.")
    affiliation: Affiliation = Field("hostile", description="Truth affiliation.")
    launch: GeoPoint = Field(description="Launch point.")
    aim: GeoPoint = Field(description="Aim point.")
    launch_s: NonNegative = Field(description="Launch time, seconds after the epoch.")
    range_class: Literal["short", "medium", "intermediate"] = Field(description="Missile class by range.")
    loft_deg: float = Field(
        0.0,
        ge=-30.0,
        le=30.0,
        description="Loft (+) or depression (−) from the minimum-energy path, degrees.",
    )


class GlideManoeuvre(_Table):
    """How a glide vehicle manoeuvres during its glide."""

    kind: Literal["straight", "s_weave", "dog_leg", "skip"] = Field(
        "straight",
        description="`straight` (guidance only), `s_weave` (bank reversals), `dog_leg` (lateral excursion "
        "and back), `skip` (a dip and pull-up).",
    )
    period_s: Positive = Field(
        120.0,
        description="S-weave: time between bank reversals; skip: a push-over of period/4 then a pull-up of "
        "period/2; seconds.",
    )
    bank_deg: float = Field(30.0, ge=0.0, le=85.0, description="S-weave bank angle, degrees.")
    cross_range_m: float = Field(
        0.0, ge=-1_000_000.0, le=1_000_000.0, description="Dog-leg lateral offset, metres: + right, − left."
    )


class GlideVehicle(_Table):
    """A boost-glide vehicle: a two-stage booster releases a glider that glides to the aim (docs/truth.md)."""

    kind: Literal["glide_vehicle"] = Field(description="`glide_vehicle`.")
    id: Id = Field(description="Unique target id.")
    affiliation: Affiliation = Field("hostile", description="Truth affiliation.")
    launch: GeoPoint = Field(description="Launch point of the booster.")
    aim: GeoPoint = Field(description="Aim point.")
    launch_s: NonNegative = Field(description="Launch time, seconds after the epoch.")
    glide_entry_alt_m: float = Field(
        60_000.0, ge=30_000.0, le=80_000.0, description="Altitude at glide entry (release), metres."
    )
    glide_entry_speed_m_per_s: float = Field(
        5_000.0, ge=2_500.0, le=7_000.0, description="Speed at glide entry, m/s."
    )
    manoeuvre: GlideManoeuvre = Field(default_factory=GlideManoeuvre, description="Glide manoeuvre.")


Target = Annotated[Aircraft | CruiseMissile | BallisticMissile | GlideVehicle, Field(discriminator="kind")]


class Airport(_Table):
    """An airport for the civil traffic background."""

    code: Id = Field(description="Airport code, e.g. an IATA code.")
    lat_deg: Latitude = Field(description="Latitude, degrees.")
    lon_deg: Longitude = Field(description="Longitude, degrees east.")


class CivilTraffic(_Table):
    """A background of civil airliners on airways between airports, drawn from the scenario seed."""

    count: int = Field(ge=0, le=100_000, description="Number of airliners.")
    airports: list[Airport] = Field(min_length=2, description="Airports the airways join.")
    routes: list[tuple[Id, Id]] = Field(min_length=1, description="Airways as pairs of airport codes.")


# --- Network and release -----------------------------------------------------------------------


class Outage(_Table):
    """A period when a link carries nothing."""

    start_s: NonNegative = Field(description="Start, seconds after the epoch.")
    end_s: Positive = Field(description="End, seconds after the epoch.")


class Link(_Table):
    """A network link between two nations' nodes (both directions)."""

    nations: tuple[NationCode, NationCode] = Field(description="The two nations the link joins.")
    latency_s: NonNegative = Field(0.05, description="Mean one-way latency, seconds.")
    jitter_s: NonNegative = Field(0.0, description="Standard deviation of latency, seconds.")
    loss: Probability = Field(0.0, description="Probability that a message is lost.")
    bandwidth_bps: Positive = Field(1e6, description="Capacity, bits per second.")
    outages: list[Outage] = Field(default_factory=list, description="Scheduled outages / partitions.")


class Network(_Table):
    """The coalition network and how nodes use it."""

    links: list[Link] = Field(default_factory=list, description="Links between nations.")
    publish_interval_s: Positive = Field(
        1.0, description="How often a node reports its local tracks to its partners, seconds."
    )
    stale_after_s: Positive = Field(
        10.0, description="A partner's track not reported again within this time leaves the picture, seconds."
    )
    reporting_responsibility: bool = Field(
        True,
        description="A node leaves out of its report to a partner the tracks another nation reports to "
        "that partner with better quality (Link 16's reporting responsibility).",
    )


TrackCategory = Literal["all", "air", "missile", "space"]
SourceKind = Literal["all", "radar", "ship_radar", "oth_radar", "space_ir", "external"]


class ReleaseRule(_Table):
    """What one nation releases to which partners. Nothing is released without a rule."""

    nation: NationCode = Field(description="Releasing nation.")
    to: list[NationCode] = Field(min_length=1, description="Partners that may receive.")
    categories: list[TrackCategory] = Field(
        default_factory=lambda: ["all"], min_length=1, description="Track categories released."
    )
    sources: list[SourceKind] = Field(
        default_factory=lambda: ["all"], min_length=1, description="Sensor kinds whose tracks are released."
    )


class LinkChange(_Table):
    """A change a variant makes to links: every link, or those joining the named nations."""

    nations: tuple[NationCode, NationCode] | None = Field(
        None, description="The link to change; every link when absent."
    )
    latency_factor: Positive = Field(1.0, description="Multiplies the mean latency and jitter.")
    loss: Probability | None = Field(None, description="Replaces the loss probability.")
    bandwidth_factor: Positive = Field(1.0, description="Multiplies the bandwidth.")
    outages: list[Outage] = Field(default_factory=list, description="Outages added to the link.")


class Variant(_Table):
    """An alternative architecture to compare with the scenario as written (`kizuna run --variant`).
    `no-sharing` is built in: no nation releases anything."""

    name: Id = Field(description="Name given to `--variant`.")
    description: str = Field("", description="Free text.")
    no_sharing: bool = Field(False, description="No nation releases anything (national pictures only).")
    drop_sensors: list[Id] = Field(
        default_factory=list, description="Sensors (ids, or constellation-layer ids) removed."
    )
    drop_release: list[NationCode] = Field(
        default_factory=list, description="Nations whose release rules are removed (they share nothing)."
    )
    links: list[LinkChange] = Field(default_factory=list, description="Changes to the links.")


# --- The scenario ------------------------------------------------------------------------------


class Scenario(_Table):
    """A whole scenario: time frame, nations, sensors, satellites, targets, network, release rules."""

    name: str = Field(min_length=1, description="Scenario name.")
    description: str = Field("", description="Free text.")
    epoch: Annotated[dt.datetime, AfterValidator(_utc)] = Field(
        description="Start instant, timezone-aware (e.g. 2026-06-01T00:00:00Z)."
    )
    duration_s: Positive = Field(le=30 * 86_400.0, description="Length of the scenario, seconds.")
    step_s: Positive = Field(description="Simulation step, seconds (truth is sampled at this step).")
    seed: int = Field(ge=0, le=2**63 - 1, description="Seed of every random draw.")
    region: Region | None = Field(
        None,
        description="Area of interest for maps and coverage; if absent, the box around all sites, "
        "routes and points plus 5°.",
    )
    nations: list[Nation] = Field(min_length=1, description="Partner nations.")
    sensors: list[Sensor] = Field(default_factory=list, description="Radars, OTH radars, space infrared.")
    constellations: list[Constellation] = Field(default_factory=list, description="Satellite constellations.")
    targets: list[Target] = Field(
        default_factory=list, description="Aircraft, cruise missiles, missiles, HGVs."
    )
    civil_traffic: CivilTraffic | None = Field(None, description="Background civil air traffic.")
    network: Network = Field(default_factory=Network, description="Links between the nations' nodes.")
    release: list[ReleaseRule] = Field(default_factory=list, description="Release rules.")
    variants: list[Variant] = Field(
        default_factory=list, description="Named alternatives for `kizuna run --variant` and comparisons."
    )
