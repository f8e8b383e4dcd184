// The Kizuna COP page: a MapLibre 2-D map of one nation's picture, a track table and detail panel,
// a replay timeline, and an optional CesiumJS globe. Everything it loads comes from the server
// that served it (the web packages are under /vendor/).
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";
import { TrackIconLayer } from "/static/icons.js";

const TRAIL_S = 60;
const ELLIPSE_POINTS = 24;
const TABLE_ROWS = 300;
const CAT_SIDC = { air: "SUAP------", missile: "SUAPM-----", space: "SUPP------" };
const CAT_COLOR = { air: "#ffe14d", missile: "#ff8c1a", space: "#c77dff" };
// A dense picture keeps the overview fast: above DENSE tracks, labels, ellipses and trails are
// drawn only from these zoom levels (docs/cop.md, "Frame rate").
const DENSE = 400;
const DENSE_MINZOOM = { "tracks-label": 6, ellipses: 5, trails: 4 };
// ... and its symbols are drawn smaller (milsymbol size 9, 16 px, not 13, 22 px) below this zoom
const DENSE_SMALL_ICONS_BELOW = 5;

const state = {
  info: null,
  nation: null,
  view: "coalition",
  t: 0,
  t0: 0,
  t1: 0,
  playing: false,
  speed: 10,
  live: false,
  tracks: new Map(),      // id -> record
  trails: new Map(),      // id -> [[lon, lat, t], ...]
  selected: null,
  sort: { key: "id", dir: 1 },
  filter: "",
};
const kizuna = (window.kizuna = Object.assign(window.kizuna || {}, {
  ready: false, state, tracks: state.tracks, messages: { snapshot: 0, delta: 0, clock: 0 },
  bytes: 0, reconnects: 0,
}));

const $ = (id) => document.getElementById(id);
let map;
let trackIcons = null;
let socket = null;
let globe = null;
let sliderHeld = false;

function fmtClock(t) {
  const sign = t < 0 ? "-" : "";
  const a = Math.abs(t);
  const m = Math.floor(a / 60);
  const s = Math.floor(a % 60).toString().padStart(2, "0");
  const epoch = state.info ? Date.parse(state.info.epoch_utc) : 0;
  const utc = new Date(epoch + t * 1000).toISOString().slice(11, 19);
  return `T${sign ? "−" : "+"}${m}:${s}  ${utc}Z`;
}

function banner(text) {
  const b = $("banner");
  b.textContent = text;
  b.hidden = !text;
}

// ---- symbols --------------------------------------------------------------------------------

function symbolImage(name) {
  // names: "trk-<category>", "trk-<category>-sel", each with "-small" for a dense overview
  const m = /^trk-(air|missile|space)(-sel)?(-small)?$/.exec(name);
  if (!m) return null;
  const sym = new window.ms.Symbol(CAT_SIDC[m[1]], {
    size: m[3] ? 9 : 13, square: true, outlineWidth: m[2] ? 4 : 2, outlineColor: m[2] ? "#58a6ff" : "#0d1117",
  });
  const canvas = sym.asCanvas(window.devicePixelRatio || 1);
  const ctx = canvas.getContext("2d");
  return { width: canvas.width, height: canvas.height, data: ctx.getImageData(0, 0, canvas.width, canvas.height).data };
}

// ---- map ------------------------------------------------------------------------------------

function emptyFc() { return { type: "FeatureCollection", features: [] }; }

const OVERLAY_LAYERS = ["coverage", "coverage-edge", "routes", "sites", "groundtracks", "ellipses", "trails"];
const overlay = { sensors: [], groundtracks: [], ellipses: [], trails: [] };
let overlayQueued = false;
function setOverlay(part, features) {
  // one part of the shared overlay source; the parts set in one task go to MapLibre together
  overlay[part] = features;
  if (overlayQueued) return;
  overlayQueued = true;
  queueMicrotask(() => {
    overlayQueued = false;
    const all = [].concat(...Object.values(overlay));
    map.getSource("overlay").setData({ type: "FeatureCollection", features: all });
    // with nothing to draw, no layer of the source: no stencil pass for it either
    const visibility = all.length ? "visible" : "none";
    for (const id of OVERLAY_LAYERS) {
      if (map.getLayer(id) && map.getLayoutProperty(id, "visibility") !== visibility) map.setLayoutProperty(id, "visibility", visibility);
    }
  });
}

function skipSky(map) {
  // MapLibre 6 draws its sky, a full-screen shader pass, on every frame, even on a flat north-up
  // map with no sky in view; it would also paint over the sea (the CSS background). On a software
  // renderer that pass alone cost more than all the rest of the frame (docs/cop.md, "Frame
  // rate"). The map cannot pitch (maxPitch 0), so no sky is ever in view: draw none.
  const painter = map.painter;
  if (painter && painter.drawFunctions && painter.drawFunctions.sky) {
    painter.drawFunctions = { ...painter.drawFunctions, sky: () => {} };
  }
}

async function buildMap() {
  const r = state.info.region || { lon_min_deg: 100, lon_max_deg: 170, lat_min_deg: -40, lat_max_deg: 50 };
  map = new maplibregl.Map({
    container: "map",
    style: {
      version: 8,
      sources: {},
      // no background layer: the sea is the map element's CSS background, behind a transparent
      // canvas (a full-screen background pass costs a software renderer a quarter of a frame)
      layers: [],
    },
    bounds: [[r.lon_min_deg, r.lat_min_deg], [r.lon_max_deg, r.lat_max_deg]],
    attributionControl: false,
    renderWorldCopies: false,
    fadeDuration: 0,
    maxPitch: 0,
    dragRotate: false,
    touchPitch: false,
  });
  kizuna.map = map;
  skipSky(map);
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  await new Promise((resolve) => map.once("load", resolve));

  // 1:110 million coastlines for the overview, 1:50 million from zoom 4 (fewer vertices to draw)
  for (const [scale, minzoom, maxzoom] of [["110m", 0, 4], ["50m", 4, 24]]) {
    const topo = await (await fetch(`/vendor/world-atlas/countries-${scale}.json`)).json();
    const countries = unwrapRings(window.topojson.feature(topo, topo.objects.countries));
    map.addSource(`countries-${scale}`, { type: "geojson", data: countries });
    map.addSource(`borders-${scale}`, { type: "geojson", data: borderLines(countries) });
    map.addLayer({ id: `land-${scale}`, type: "fill", source: `countries-${scale}`, minzoom, maxzoom,
      // no antialiasing outline pass: at zoom 4 and above the coastline layer draws the edges
      paint: { "fill-color": "#24382b", "fill-antialias": false } });
    // Lines cost far more than fills in a software-rendered map: coastlines only when zoomed in.
    if (scale === "50m") {
      map.addLayer({ id: `borders-${scale}`, type: "line", source: `borders-${scale}`, minzoom, maxzoom,
        paint: { "line-color": "#4b6455", "line-width": 0.7 } });
    }
  }

  const sensors = await (await fetch("/api/sensors")).json();
  // Sensors, ground tracks, ellipses and trails share one source: MapLibre clips the fill and
  // line layers of each source with a stencil mask of its tiles, a pass over the whole map that a
  // software renderer pays once per source and frame (docs/cop.md, "Frame rate").
  map.addSource("overlay", { type: "geojson", data: emptyFc() });
  setOverlay("sensors", sensors.features);
  map.addLayer({ id: "coverage", type: "fill", source: "overlay", filter: ["==", ["get", "role"], "coverage"],
    paint: { "fill-color": "#3fb950", "fill-opacity": 0.06 } });
  map.addLayer({ id: "coverage-edge", type: "line", source: "overlay", filter: ["==", ["get", "role"], "coverage"],
    paint: { "line-color": "#3fb950", "line-opacity": 0.45, "line-width": 0.8 } });
  map.addLayer({ id: "routes", type: "line", source: "overlay", filter: ["==", ["get", "role"], "route"],
    paint: { "line-color": "#3fb950", "line-width": 1.2 } });
  map.addLayer({ id: "sites", type: "circle", source: "overlay", filter: ["==", ["get", "role"], "site"],
    paint: { "circle-radius": 4, "circle-color": "#3fb950", "circle-stroke-color": "#0d1117", "circle-stroke-width": 1 } });

  map.addLayer({ id: "groundtracks", type: "line", source: "overlay", filter: ["==", ["get", "role"], "groundtrack"],
    paint: { "line-color": "#c77dff", "line-opacity": 0.35, "line-width": 1 } });
  map.addSource("satellites", { type: "geojson", data: emptyFc() });
  map.addLayer({ id: "satellites", type: "circle", source: "satellites",
    paint: { "circle-radius": 3, "circle-color": "#c77dff", "circle-stroke-color": "#0d1117", "circle-stroke-width": 1 } });

  map.addLayer({ id: "ellipses", type: "line", source: "overlay", filter: ["==", ["get", "role"], "ellipse"],
    paint: { "line-color": ["get", "color"], "line-opacity": 0.7, "line-width": 1 } });
  map.addLayer({ id: "trails", type: "line", source: "overlay", filter: ["==", ["get", "role"], "trail"],
    paint: { "line-color": ["get", "color"], "line-opacity": 0.55, "line-width": 1.5 } });
  // the MIL-STD-2525 symbols: one instanced draw for all tracks (icons.js); labels by MapLibre
  trackIcons = new TrackIconLayer("tracks", symbolImage);
  map.addLayer(trackIcons);
  map.addSource("track-labels", { type: "geojson", data: emptyFc() });
  map.addLayer({
    id: "tracks-label", type: "symbol", source: "track-labels",
    layout: {
      "text-field": ["get", "label"], "text-size": 10, "text-offset": [1.1, 0], "text-anchor": "left",
      "text-justify": "left",
    },
    paint: { "text-color": "#e6edf3", "text-halo-color": "#0d1117", "text-halo-width": 1.2 },
  });
  const trackAt = (point) => trackIcons.pick(point, map.getZoom(), (p) => map.unproject(p));
  map.on("click", (e) => { const id = trackAt(e.point); if (id !== null) select(id); });
  map.on("mousemove", (e) => { map.getCanvas().style.cursor = trackAt(e.point) === null ? "" : "pointer"; });
  // Labels, ellipses and trails of a dense picture are drawn only zoomed in (DENSE_MINZOOM); their
  // sources are filled only while they show, so a replay does not re-tile what nobody sees.
  map.on("zoomend", () => { if (dense && levelAtZoom() !== drawnLevel) redraw(); });
}

function unwrapRings(countries) {
  // A ring that jumps across the antimeridian (Fiji, Chukotka) would be filled as a band across
  // the whole map: continue it east of 180° instead.
  for (const f of countries.features) {
    const g = f.geometry;
    if (!g) continue;
    const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
    for (const poly of polys) for (const ring of poly) {
      const jumps = ring.some((p, i) => i > 0 && Math.abs(p[0] - ring[i - 1][0]) > 180);
      if (jumps) for (const p of ring) if (p[0] < 0) p[0] += 360;
    }
  }
  return countries;
}

function borderLines(countries) {
  // Outlines as lines, cut where a ring jumps across the antimeridian (Fiji, Russia): drawn as
  // polygons' edges those jumps would be lines across the whole map.
  const lines = [];
  for (const f of countries.features) {
    const g = f.geometry;
    if (!g) continue;
    const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
    for (const poly of polys) for (const ring of poly) {
      let seg = [];
      for (const p of ring) {
        if (seg.length && Math.abs(p[0] - seg[seg.length - 1][0]) > 180) { if (seg.length > 1) lines.push(seg); seg = []; }
        seg.push(p);
      }
      if (seg.length > 1) lines.push(seg);
    }
  }
  return { type: "Feature", properties: {}, geometry: { type: "MultiLineString", coordinates: lines } };
}

function label(r) {
  const alt = r.alt >= 20000 ? `${(r.alt / 1000).toFixed(0)} km` : `${(r.alt / 1000).toFixed(1)} km`;
  return `${r.id}\n${alt} ${Math.round(r.spd)} m/s`;
}

function ellipseRing(r) {
  const o = (r.eo * Math.PI) / 180;
  const major = [Math.sin(o), Math.cos(o)];   // east, north
  const minor = [Math.cos(o), -Math.sin(o)];
  const mPerDegLat = 111320;
  const mPerDegLon = 111320 * Math.max(Math.cos((r.lat * Math.PI) / 180), 0.01);
  const ring = [];
  for (let i = 0; i <= ELLIPSE_POINTS; i++) {
    const a = (2 * Math.PI * i) / ELLIPSE_POINTS;
    const e = r.ea * Math.cos(a) * major[0] + r.eb * Math.sin(a) * minor[0];
    const n = r.ea * Math.cos(a) * major[1] + r.eb * Math.sin(a) * minor[1];
    ring.push([r.lon + e / mPerDegLon, r.lat + n / mPerDegLat]);
  }
  return ring;
}

let dense = false;
function levelOfDetail() {
  const now = state.tracks.size > DENSE;
  if (now === dense) return;
  dense = now;
  for (const [layer, zoom] of Object.entries(DENSE_MINZOOM)) map.setLayerZoomRange(layer, dense ? zoom : 0, 24);
  kizuna.dense = dense;
}

function hiddenOverlays() {
  // the overlay layers a dense picture does not draw at the current zoom
  if (!dense) return [];
  const z = map.getZoom();
  return Object.entries(DENSE_MINZOOM).filter(([, zoom]) => z < zoom).map(([layer]) => layer);
}

function smallIcons() { return dense && map.getZoom() < DENSE_SMALL_ICONS_BELOW; }

let drawnLevel = "";
function levelAtZoom() { return `${hiddenOverlays().join()}|${smallIcons()}`; }

function redraw() {
  if (!map || !trackIcons) return;
  levelOfDetail();
  drawnLevel = levelAtZoom();
  const skip = new Set(hiddenOverlays());
  const size = smallIcons() ? "-small" : "";
  const icons = [];
  const pts = [];
  const ells = [];
  const trails = [];
  let selected = null;
  for (const r of state.tracks.values()) {
    const icon = { lon: r.lon, lat: r.lat, id: r.id, name: `trk-${r.cat}${size}` };
    if (r.id === state.selected) selected = { ...icon, name: `trk-${r.cat}-sel${size}` };
    else icons.push(icon);
    if (!skip.has("tracks-label")) {
      pts.push({ type: "Feature", geometry: { type: "Point", coordinates: [r.lon, r.lat] },
        properties: { id: r.id, label: label(r) } });
    }
    if (r.ea > 0 && !skip.has("ellipses")) {
      ells.push({ type: "Feature", geometry: { type: "LineString", coordinates: ellipseRing(r) },
        properties: { role: "ellipse", color: CAT_COLOR[r.cat] || "#fff" } });
    }
    const trail = skip.has("trails") ? null : state.trails.get(r.id);
    if (trail && trail.length > 1) {
      trails.push({ type: "Feature", geometry: { type: "LineString", coordinates: trail.map((p) => [p[0], p[1]]) },
        properties: { role: "trail", color: CAT_COLOR[r.cat] || "#fff" } });
    }
  }
  if (selected) icons.push(selected); // drawn last: on top
  trackIcons.setItems(icons);
  map.getSource("track-labels").setData({ type: "FeatureCollection", features: pts });
  setOverlay("ellipses", ells);
  setOverlay("trails", trails);
  if (globe && globe.isOpen) globe.update([...state.tracks.values()], state.t, state.nation, state.view);
}

// ---- satellites -----------------------------------------------------------------------------

let sats = null;
function drawSatellites() {
  if (!sats || !sats.times.length || !map || !map.getSource("satellites")) return;
  const times = sats.times;
  let k = times.findIndex((x) => x > state.t) - 1;
  if (k < 0) k = state.t >= times[times.length - 1] ? times.length - 2 : 0;
  k = Math.max(0, Math.min(k, times.length - 2));
  const f = Math.min(Math.max((state.t - times[k]) / (times[k + 1] - times[k] || 1), 0), 1);
  const pts = [];
  const lines = [];
  const span = Math.round(1200 / ((times[1] - times[0]) || 10)); // ±20 min of ground track
  for (const s of sats.satellites) {
    let lon0 = s.lon[k], lon1 = s.lon[k + 1];
    if (Math.abs(lon1 - lon0) > 180) lon1 += lon1 < lon0 ? 360 : -360;
    pts.push({ type: "Feature", geometry: { type: "Point", coordinates: [lon0 + f * (lon1 - lon0), s.lat[k] + f * (s.lat[k + 1] - s.lat[k])] },
      properties: { id: s.id } });
    let seg = [];
    for (let i = Math.max(0, k - span); i <= Math.min(times.length - 1, k + span); i++) {
      if (seg.length && Math.abs(s.lon[i] - seg[seg.length - 1][0]) > 180) { lines.push(seg); seg = []; }
      seg.push([s.lon[i], s.lat[i]]);
    }
    if (seg.length > 1) lines.push(seg);
  }
  map.getSource("satellites").setData({ type: "FeatureCollection", features: pts });
  setOverlay("groundtracks",
    lines.map((c) => ({ type: "Feature", geometry: { type: "LineString", coordinates: c }, properties: { role: "groundtrack" } })));
}

// ---- table and detail -----------------------------------------------------------------------

function matches(r, q) {
  if (!q) return true;
  return `${r.id} ${r.cat} ${r.ped} ${r.rep} ${r.st}`.toLowerCase().includes(q);
}

function renderTable() {
  const q = state.filter.trim().toLowerCase();
  const { key, dir } = state.sort;
  const rows = [...state.tracks.values()].filter((r) => matches(r, q));
  rows.sort((a, b) => (a[key] < b[key] ? -dir : a[key] > b[key] ? dir : a.id - b.id));
  const body = document.querySelector("#tracks tbody");
  const html = rows.slice(0, TABLE_ROWS).map((r) =>
    `<tr data-id="${r.id}"${r.id === state.selected ? ' class="sel"' : ""}><td>${r.id}</td><td>${r.cat}</td>` +
    `<td class="num">${(r.alt / 1000).toFixed(1)}</td><td class="num">${r.spd.toFixed(0)}</td>` +
    `<td class="num">${r.crs.toFixed(0)}</td><td class="num">${r.q}</td><td>${r.ped || state.nation}</td>` +
    `<td>${r.rep || state.nation}</td></tr>`).join("");
  body.innerHTML = html;
  $("table-note").textContent = rows.length > TABLE_ROWS
    ? `showing ${TABLE_ROWS} of ${rows.length} matching tracks (${state.tracks.size} in the picture)`
    : `${rows.length} of ${state.tracks.size} tracks`;
  document.querySelectorAll("#tracks th").forEach((th) => {
    th.classList.toggle("asc", th.dataset.key === key && dir > 0);
    th.classList.toggle("desc", th.dataset.key === key && dir < 0);
  });
}

function custodyBars(intervals, t0, t1) {
  const w = Math.max(t1 - t0, 1);
  return `<svg viewBox="0 0 1000 10" preserveAspectRatio="none">` + intervals.map(([a, b]) =>
    `<rect x="${(1000 * (a - t0)) / w}" y="0" width="${Math.max((1000 * (b - a)) / w, 2)}" height="10" fill="#3fb950"/>`
  ).join("") + `<line x1="${(1000 * (state.t - t0)) / w}" x2="${(1000 * (state.t - t0)) / w}" y1="0" y2="10" stroke="#fff" stroke-width="3"/></svg>`;
}

async function showDetail() {
  const id = state.selected;
  const panel = $("detail");
  if (id === null) { panel.hidden = true; return; }
  panel.hidden = false;
  $("detail-id").textContent = id;
  const res = await fetch(`/api/track/${id}?nation=${state.nation}&view=${state.view}`);
  if (id !== state.selected) return;
  if (!res.ok) {
    $("detail-body").textContent = (await res.json()).error || "no such track";
    return;
  }
  const d = await res.json();
  const r = state.tracks.get(id) || d.latest;
  const rows = [
    ["Category", r.cat], ["Status", r.st], ["Position", `${r.lat.toFixed(3)}°, ${r.lon.toFixed(3)}°`],
    ["Altitude", `${(r.alt / 1000).toFixed(2)} km`], ["Speed", `${r.spd.toFixed(0)} m/s, course ${r.crs.toFixed(0)}°`],
    ["Climb", `${r.vz.toFixed(0)} m/s`], ["Quality", r.q], ["Pedigree", r.ped || state.nation],
    ["Reporter", r.rep || state.nation], ["Sources", r.n],
    ["2σ ellipse", `${(r.ea / 1000).toFixed(1)} × ${(r.eb / 1000).toFixed(1)} km, ${r.eo.toFixed(0)}°`],
    ["Release", d.release], ["In this picture", `${d.first_s.toFixed(0)}–${d.last_s.toFixed(0)} s`],
  ];
  const t0 = state.t0, t1 = Math.max(state.t1, d.last_s);
  const custody = Object.entries(d.held_by).map(([n, iv]) =>
    `<div class="row"><span>${n}</span>${custodyBars(iv, t0, t1)}</div>`).join("");
  const changes = d.changes.slice(-8).map((c) => `<li>${c.t.toFixed(0)} s: ${c.ped} (reporter ${c.rep}), ${c.st}</li>`).join("");
  $("detail-body").innerHTML =
    `<dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")}</dl>` +
    `<div class="custody"><b>Held as ${id} in each nation's coalition picture</b>${custody}` +
    `<div class="row"><span>${state.view === "own" ? "own" : "this"}</span>${custodyBars(d.held, t0, t1)}</div></div>` +
    (changes ? `<div><b>Pedigree / reporter changes</b><ul>${changes}</ul></div>` : "");
}

function select(id) {
  state.selected = id === null ? null : Number(id);
  redraw();
  renderTable();
  showDetail();
}

function legend() {
  const items = Object.keys(CAT_SIDC).map((c) =>
    `<span><img alt="${c}" src="${new window.ms.Symbol(CAT_SIDC[c], { size: 18 }).toDataURL()}"> ${c}</span>`);
  items.push('<span><i class="swatch" style="background:#3fb95033;border-color:#3fb950"></i>sensor coverage (instrumented range)</span>');
  items.push('<span><i class="swatch" style="background:#c77dff"></i>LEO satellite and ground track</span>');
  items.push("<span>ellipses: 2σ horizontal uncertainty · trails: last 60 s</span>");
  items.push(`<span>over ${DENSE} tracks: smaller symbols zoomed out; labels, ellipses and trails appear zooming in</span>`);
  $("legend-body").innerHTML = items.join("");
}

// ---- stream ---------------------------------------------------------------------------------

function applyTrails(trails, t) {
  state.trails.clear();
  for (const [id, pts] of Object.entries(trails || {})) state.trails.set(Number(id), pts.map((p) => [p[0], p[1], t]));
}

function extendTrails(t) {
  for (const r of state.tracks.values()) {
    let trail = state.trails.get(r.id);
    if (!trail) state.trails.set(r.id, (trail = []));
    const last = trail[trail.length - 1];
    if (!last || last[0] !== r.lon || last[1] !== r.lat) trail.push([r.lon, r.lat, t]);
    while (trail.length && trail[0][2] < t - TRAIL_S) trail.shift();
  }
  for (const id of state.trails.keys()) if (!state.tracks.has(id)) state.trails.delete(id);
}

function onMessage(m) {
  kizuna.messages[m.type] = (kizuna.messages[m.type] || 0) + 1;
  if (m.type === "snapshot") {
    state.tracks.clear();
    for (const r of m.tracks) state.tracks.set(r.id, r);
    applyTrails(m.trails, m.t);
    state.t = m.t;
    kizuna.pictureTime = m.t;
    afterPicture();
  } else if (m.type === "delta") {
    for (const id of m.remove) state.tracks.delete(id);
    for (const r of m.upsert) state.tracks.set(r.id, r);
    state.t = m.t;
    kizuna.pictureTime = m.t;
    extendTrails(m.t);
    afterPicture();
  } else if (m.type === "clock") {
    state.t = m.t; state.t0 = m.t0; state.t1 = m.t1; state.playing = m.playing; state.live = m.live;
    updateClock();
  }
}

let tableTimer = null;
function afterPicture() {
  redraw();
  drawSatellites();
  if (!tableTimer) tableTimer = setTimeout(() => { tableTimer = null; renderTable(); }, 250);
  $("counts").textContent = `${state.nation} ${state.view === "own" ? "own sensors" : "coalition"}: ${state.tracks.size} tracks`;
  if (state.selected !== null && !state.tracks.has(state.selected)) $("detail-id").textContent = `${state.selected} (not held now)`;
  if (!kizuna.ready) {
    map.once("idle", () => {
      kizuna.ready = true;
      kizuna.readyAt = performance.now();
      document.body.dataset.ready = "1";
    });
    map.triggerRepaint();
  }
}

function updateClock() {
  const slider = $("time");
  slider.min = state.t0; slider.max = state.t1;
  if (!sliderHeld) slider.value = state.t;
  $("clock").textContent = fmtClock(state.t);
  $("play").textContent = state.playing ? "❚❚" : "▶";
  $("live").classList.toggle("on", state.live);
}

function send(msg) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg));
}

function connect() {
  const url = `ws://${location.host}/ws`;
  socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => {
    $("conn").textContent = state.info.live ? "live" : "replay";
    $("conn").classList.add("ok");
    banner("");
    send({ op: "subscribe", nation: state.nation, view: state.view, t: state.t, playing: state.playing,
      speed: state.speed, live: state.info.live && state.live !== false && kizuna.messages.snapshot === 0 ? true : state.live });
  };
  const decoder = new TextDecoder();
  socket.onmessage = (ev) => {
    const text = typeof ev.data === "string" ? ev.data : decoder.decode(ev.data);
    kizuna.bytes += text.length;
    onMessage(JSON.parse(text));
  };
  socket.onclose = () => {
    $("conn").textContent = "reconnecting…";
    $("conn").classList.remove("ok");
    kizuna.reconnects += 1;
    setTimeout(connect, 1000);
  };
  socket.onerror = () => {}; // onclose follows and reconnects
}

// ---- globe ----------------------------------------------------------------------------------

async function toggleGlobe() {
  const button = $("view3d");
  const box = $("globe");
  if (globe && globe.isOpen) {
    globe.close();
    globe.isOpen = false;
    box.hidden = true;
    button.classList.remove("on");
    return;
  }
  box.hidden = false;
  button.classList.add("on");
  if (!globe) {
    const { Globe } = await import("/static/globe.js");
    globe = new Globe(box, state.info);
    kizuna.globeView = globe;
  }
  await globe.open();
  globe.isOpen = true;
  globe.update([...state.tracks.values()], state.t, state.nation, state.view);
}

// ---- fps ------------------------------------------------------------------------------------

kizuna.measureFps = (seconds = 5, pan = true) => new Promise((resolve) => {
  // Frames the map actually renders per second while it pans continuously (a user dragging).
  let frames = 0;
  const onRender = () => { frames += 1; };
  map.on("render", onRender);
  const start = performance.now();
  let dx = 3;
  const step = () => {
    const now = performance.now();
    if (now - start >= seconds * 1000) {
      map.off("render", onRender);
      resolve({ frames, seconds: (now - start) / 1000, fps: frames / ((now - start) / 1000) });
      return;
    }
    if (pan) { map.panBy([dx, 0], { duration: 0 }); dx = -dx; }
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
});

kizuna.icons = () => ({
  // what the symbol layer holds: how many, and the sizes (device px) of their images
  count: trackIcons ? trackIcons.items.length : 0,
  widths: trackIcons ? [...new Set(trackIcons.items.map((it) => it.width))] : [],
});

kizuna.project = (ids) => ids.map((id) => {
  const r = state.tracks.get(id);
  if (!r) return null;
  const p = map.project([r.lon, r.lat]);
  return { id, x: p.x, y: p.y, cat: r.cat };
});

// ---- start ----------------------------------------------------------------------------------

async function main() {
  const res = await fetch("/api/info");
  state.info = await res.json();
  state.nation = state.info.default_nation || state.info.nations[0].code;
  const params = new URLSearchParams(location.search);
  if (params.get("nation")) state.nation = params.get("nation");
  if (params.get("view")) state.view = params.get("view");
  if (params.get("t")) state.t = Number(params.get("t"));
  state.live = state.info.live && !params.get("t");
  $("scenario-name").textContent = state.info.name;
  const select_ = $("nation");
  select_.innerHTML = state.info.nations.map((n) => `<option value="${n.code}">${n.code} — ${n.name}</option>`).join("");
  select_.value = state.nation;
  document.querySelectorAll(".toggle button").forEach((b) => b.classList.toggle("on", b.dataset.view === state.view));
  $("live").hidden = !state.info.live;
  legend();
  await buildMap();
  sats = await (await fetch("/api/satellites")).json();

  // Coalition pictures share system track numbers, so a selection follows a nation switch there;
  // a node numbers its own-sensor tracks in a block of its own, so any other switch clears it.
  select_.addEventListener("change", () => {
    state.nation = select_.value;
    send({ op: "view", nation: state.nation, view: state.view });
    if (state.view === "own") select(null);
    else if (state.selected !== null) showDetail();
  });
  document.querySelectorAll(".toggle button").forEach((b) => b.addEventListener("click", () => {
    const changed = state.view !== b.dataset.view;
    state.view = b.dataset.view;
    document.querySelectorAll(".toggle button").forEach((x) => x.classList.toggle("on", x === b));
    send({ op: "view", nation: state.nation, view: state.view });
    if (changed && state.selected !== null) select(null);
  }));
  $("play").addEventListener("click", () => send(state.playing ? { op: "pause" } : { op: "play", speed: state.speed }));
  $("speed").addEventListener("change", () => { state.speed = Number($("speed").value); send({ op: "speed", speed: state.speed }); });
  state.speed = Number($("speed").value);
  const slider = $("time");
  slider.step = state.info.step_s;
  slider.addEventListener("input", () => { sliderHeld = true; $("clock").textContent = fmtClock(Number(slider.value)); });
  slider.addEventListener("change", () => { sliderHeld = false; send({ op: "seek", t: Number(slider.value) }); });
  $("live").addEventListener("click", () => send({ op: "live" }));
  $("filter").addEventListener("input", (e) => { state.filter = e.target.value; renderTable(); });
  document.querySelectorAll("#tracks th").forEach((th) => th.addEventListener("click", () => {
    const key = th.dataset.key;
    state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 };
    renderTable();
  }));
  document.querySelector("#tracks tbody").addEventListener("click", (e) => {
    const tr = e.target.closest("tr");
    if (tr) select(tr.dataset.id);
  });
  $("detail-close").addEventListener("click", () => select(null));
  $("view3d").addEventListener("click", () => toggleGlobe().catch((err) => { console.error(err); banner(`3-D view failed: ${err}`); }));
  kizuna.send = send;
  kizuna.select = select;
  kizuna.toggleGlobe = toggleGlobe;
  connect();
}

main().catch((err) => {
  console.error(err);
  banner(`The COP could not start: ${err}`);
});
