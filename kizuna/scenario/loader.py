"""Loading a scenario file: TOML -> typed `Scenario`, with every problem reported at once.

A problem names the file, the key path (``sensors[3].max_range_m``) and what was expected. Type
and range errors come from the schema in one pass; cross-references (a sensor's nation exists, a
constellation's TLE file parses, ids are unique...) are checked after it.
"""

from __future__ import annotations

import difflib
import tomllib
import types
import typing
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from kizuna.scenario.schema import (
    OthRadar,
    Radar,
    Region,
    Scenario,
    ShipRadar,
    SpaceInfrared,
    TleConstellation,
    WalkerConstellation,
)

__all__ = [
    "LoadedScenario",
    "Problem",
    "ScenarioError",
    "cross_check",
    "effective_region",
    "load_scenario",
    "parse_scenario",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where (key path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ScenarioError(ValueError):
    """A scenario file that cannot be used, with every problem found in it."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.problems)
        head = f"{self.source}: {n} problem{'s' if n != 1 else ''}"
        return "\n".join([head, *(f"  {self.source}: {p}" for p in self.problems)])


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario and the folder its relative paths (TLE files) are resolved against."""

    scenario: Scenario
    source: Path
    base_dir: Path

    def resolve(self, relative: str) -> Path:
        return (self.base_dir / relative).resolve()


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read, parse and check a scenario file; raise `ScenarioError` listing every problem."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(str(source), [Problem("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(source), [Problem("", f"cannot read the file: {exc}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(source), [Problem("", f"not valid TOML: {exc}")]) from None
    scenario = parse_scenario(data, source=str(source), base_dir=source.parent)
    return LoadedScenario(scenario, source, source.parent.resolve())


def parse_scenario(
    data: dict[str, Any], *, source: str = "<scenario>", base_dir: Path | None = None
) -> Scenario:
    """Validate already-parsed TOML data; raise `ScenarioError` listing every problem."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, [_problem_from_pydantic(e) for e in exc.errors()]) from None
    problems = cross_check(scenario, base_dir)
    if problems:
        raise ScenarioError(source, problems)
    return scenario


# --- Pydantic errors -> key paths --------------------------------------------------------------


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional wrappers."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _union_members(annotation: Any) -> list[type[BaseModel]]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    return []


def _tag_of(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("kind")
    if field is None:
        return None
    args = typing.get_args(field.annotation)
    return str(args[0]) if args else None


def _walk(loc: Sequence[int | str]) -> tuple[str, type[BaseModel] | None]:
    """Turn a pydantic location into a key path, and find the table type at its parent."""
    parts: list[str] = []
    annotation: Any = Scenario
    parent: type[BaseModel] | None = None
    items = list(loc)
    i = 0
    while i < len(items):
        elem = items[i]
        annotation = _unwrap(annotation)
        members = _union_members(annotation)
        if members and isinstance(elem, str):
            # A discriminated union puts the tag in the location: skip it, keep its member.
            tagged = [m for m in members if _tag_of(m) == elem]
            if tagged:
                annotation = tagged[0]
                i += 1
                continue
        if isinstance(elem, int):
            parts.append(f"[{elem}]")
            args = typing.get_args(annotation)
            if typing.get_origin(annotation) is tuple and args:
                annotation = args[min(elem, len(args) - 1)]
            else:
                annotation = args[0] if args else Any
        else:
            parts.append(("." if parts else "") + elem)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                parent = annotation
                field = annotation.model_fields.get(elem)
                annotation = field.annotation if field is not None else Any
            else:
                parent = None
                annotation = Any
        i += 1
    return "".join(parts), parent


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problem_from_pydantic(err: Any) -> Problem:
    loc = tuple(err["loc"])
    path, parent = _walk(loc)
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return Problem(path, "required key is missing")
    if kind == "extra_forbidden":
        name = str(loc[-1])
        allowed = sorted(parent.model_fields) if parent is not None else []
        hint = difflib.get_close_matches(name, allowed, n=1)
        text = f"unknown key '{name}'"
        if hint:
            text += f"; did you mean '{hint[0]}'?"
        if allowed:
            text += f" (allowed here: {', '.join(allowed)})"
        return Problem(path, text)
    if kind == "union_tag_invalid":
        return Problem(
            path + ".kind",
            f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}",
        )
    if kind == "union_tag_not_found":
        return Problem(path, "missing key 'kind' that says what this entry is")
    message = str(err["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
        return Problem(path, message)
    return Problem(path, f"{message[0].lower()}{message[1:]} (got {_short(err.get('input'))})")


# --- Cross-references and relations between fields ---------------------------------------------


def _duplicates(values: Iterable[str]) -> set[str]:
    return {v for v, n in Counter(values).items() if n > 1}


def cross_check(s: Scenario, base_dir: Path | None) -> list[Problem]:
    """Relations the schema's per-field types cannot express. Returns every problem found."""
    problems: list[Problem] = []
    add = problems.append
    nations = {n.code for n in s.nations}

    def check_nation(path: str, code: str) -> None:
        if code not in nations:
            add(
                Problem(path, f"nation {code!r} is not declared in [[nations]] (declared: {sorted(nations)})")
            )

    if s.step_s > s.duration_s:
        add(Problem("step_s", f"must not exceed duration_s ({s.duration_s:g} s)"))
    for name, items in (
        ("nations", [n.code for n in s.nations]),
        ("sensors", [x.id for x in s.sensors]),
        ("constellations", [c.id for c in s.constellations]),
        ("targets", [t.id for t in s.targets]),
    ):
        for dup in sorted(_duplicates(items)):
            index = items.index(dup, items.index(dup) + 1)
            add(Problem(f"{name}[{index}]", f"id {dup!r} is used more than once"))
    if s.region is not None and s.region.lat_min_deg >= s.region.lat_max_deg:
        add(Problem("region.lat_max_deg", "must be greater than region.lat_min_deg"))
    if s.region is not None and s.region.lon_min_deg >= s.region.lon_max_deg:
        add(Problem("region.lon_max_deg", "must be greater than region.lon_min_deg"))

    constellations = {c.id: c for c in s.constellations}
    for i, c in enumerate(s.constellations):
        path = f"constellations[{i}]"
        check_nation(f"{path}.nation", c.nation)
        if isinstance(c, WalkerConstellation):
            if c.total % c.planes:
                add(Problem(f"{path}.planes", f"must divide total ({c.total}); got {c.planes}"))
            if c.phasing >= c.planes:
                add(Problem(f"{path}.phasing", f"must be less than planes ({c.planes}); got {c.phasing}"))
        elif isinstance(c, TleConstellation):
            problems.extend(_check_tle_file(f"{path}.file", c.file, base_dir))

    for i, sensor in enumerate(s.sensors):
        path = f"sensors[{i}]"
        check_nation(f"{path}.nation", sensor.nation)
        if isinstance(sensor, Radar | ShipRadar):
            if sensor.elevation_min_deg >= sensor.elevation_max_deg:
                add(Problem(f"{path}.elevation_max_deg", "must be greater than elevation_min_deg"))
            if sensor.min_range_m >= sensor.max_range_m:
                add(Problem(f"{path}.max_range_m", "must be greater than min_range_m"))
        elif isinstance(sensor, OthRadar):
            if sensor.min_ground_range_m >= sensor.max_ground_range_m:
                add(Problem(f"{path}.max_ground_range_m", "must be greater than min_ground_range_m"))
        elif isinstance(sensor, SpaceInfrared):
            if sensor.constellation not in constellations:
                add(
                    Problem(
                        f"{path}.constellation",
                        f"no constellation {sensor.constellation!r} (declared: {sorted(constellations)})",
                    )
                )
            if sensor.threshold_earth_w_per_m2 < sensor.threshold_space_w_per_m2:
                add(
                    Problem(
                        f"{path}.threshold_earth_w_per_m2",
                        "must be at least threshold_space_w_per_m2 (the Earth background is brighter)",
                    )
                )

    from kizuna.truth.build import target_problem  # truth models check themselves

    for i, t in enumerate(s.targets):
        problem = target_problem(t)
        if problem is not None:
            add(Problem(f"targets[{i}]", f"target {t.id!r} cannot fly: {problem}"))
        if t.id.startswith("civil-"):
            add(Problem(f"targets[{i}].id", "ids starting with 'civil-' are reserved for the civil traffic"))
        if hasattr(t, "launch") and (t.launch.lat_deg, t.launch.lon_deg) == (t.aim.lat_deg, t.aim.lon_deg):
            add(Problem(f"targets[{i}].aim", "is the same point as the launch point"))

    if s.civil_traffic is not None:
        codes = [a.code for a in s.civil_traffic.airports]
        for dup in sorted(_duplicates(codes)):
            add(Problem("civil_traffic.airports", f"airport {dup!r} is listed more than once"))
        for i, (a, b) in enumerate(s.civil_traffic.routes):
            for j, code in enumerate((a, b)):
                if code not in codes:
                    add(
                        Problem(
                            f"civil_traffic.routes[{i}][{j}]", f"unknown airport {code!r} (listed: {codes})"
                        )
                    )
            if a == b:
                add(Problem(f"civil_traffic.routes[{i}]", "joins an airport to itself"))

    for i, link in enumerate(s.network.links):
        path = f"network.links[{i}]"
        for j, code in enumerate(link.nations):
            check_nation(f"{path}.nations[{j}]", code)
        if link.nations[0] == link.nations[1]:
            add(Problem(f"{path}.nations", "a link joins two different nations"))
        for k, outage in enumerate(link.outages):
            if outage.end_s <= outage.start_s:
                add(Problem(f"{path}.outages[{k}].end_s", "must be after start_s"))

    for i, rule in enumerate(s.release):
        path = f"release[{i}]"
        check_nation(f"{path}.nation", rule.nation)
        for j, code in enumerate(rule.to):
            check_nation(f"{path}.to[{j}]", code)
            if code == rule.nation:
                add(Problem(f"{path}.to[{j}]", "a nation does not release to itself"))

    sensor_ids = {x.id for x in s.sensors}
    for dup in sorted(_duplicates(v.name for v in s.variants)):
        add(Problem("variants", f"variant {dup!r} is defined more than once"))
    for i, variant in enumerate(s.variants):
        path = f"variants[{i}]"
        if variant.name == "no-sharing":
            add(Problem(f"{path}.name", "'no-sharing' is built in; choose another name"))
        for j, sensor in enumerate(variant.drop_sensors):
            if sensor not in sensor_ids:
                known = sorted(sensor_ids)
                add(Problem(f"{path}.drop_sensors[{j}]", f"unknown sensor {sensor!r} (sensors: {known})"))
        for j, code in enumerate(variant.drop_release):
            check_nation(f"{path}.drop_release[{j}]", code)
        for j, change in enumerate(variant.links):
            for k, code in enumerate(change.nations or ()):
                check_nation(f"{path}.links[{j}].nations[{k}]", code)
    return problems


def _check_tle_file(path: str, relative: str, base_dir: Path | None) -> list[Problem]:
    file = (base_dir or Path.cwd()) / relative
    if not file.is_file():
        return [Problem(path, f"TLE file {relative!r} not found (looked for {file})")]
    from kizuna.orbits import TleError, read_tle_file

    try:
        read_tle_file(file)
    except TleError as exc:
        return [Problem(path, f"TLE file {relative!r} does not parse: {exc}")]
    return []


def effective_region(s: Scenario, margin_deg: float = 5.0) -> Region:
    """The scenario's area of interest: `region` if given, else the box around everything placed.

    The box covers sensor sites, ship routes, waypoints, launch and aim points and airports, plus
    `margin_deg` on every side. Longitudes are unwrapped so a box across the antimeridian stays
    small (eastern edge above 180°).
    """
    if s.region is not None:
        return s.region
    points: list[tuple[float, float]] = []
    for sensor in s.sensors:
        site = getattr(sensor, "site", None)
        if site is not None:
            points.append((site.lat_deg, site.lon_deg))
        points.extend((p.lat_deg, p.lon_deg) for p in getattr(sensor, "route", []))
    for t in s.targets:
        points.extend((w.lat_deg, w.lon_deg) for w in getattr(t, "waypoints", []))
        for name in ("launch", "aim"):
            if hasattr(t, name):
                points.append((getattr(t, name).lat_deg, getattr(t, name).lon_deg))
    if s.civil_traffic is not None:
        points.extend((a.lat_deg, a.lon_deg) for a in s.civil_traffic.airports)
    if not points:
        return Region(lat_min_deg=-90.0, lat_max_deg=90.0, lon_min_deg=-180.0, lon_max_deg=180.0)
    lats = [p[0] for p in points]
    lons = [((p[1] + 180.0) % 360.0) - 180.0 for p in points]
    if max(lons) - min(lons) > 180.0:
        lons = [lon + 360.0 if lon < 0.0 else lon for lon in lons]
    return Region(
        lat_min_deg=max(-90.0, min(lats) - margin_deg),
        lat_max_deg=min(90.0, max(lats) + margin_deg),
        lon_min_deg=max(-180.0, min(lons) - margin_deg),
        lon_max_deg=min(360.0, max(lons) + margin_deg),
    )
