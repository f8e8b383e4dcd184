// The COP's optional 3-D globe: the picture's tracks at altitude, missile trajectories as arcs in
// altitude, and the LEO layer's satellites with their orbits, drawn with CesiumJS.
//
// Fully offline: CesiumJS comes from /vendor/cesium/ on this server; no Ion token or Ion asset,
// no terrain, the bundled Natural Earth II tiles as the only imagery, credits in a hidden div.
// Rendering is on request only (requestRenderMode), and stops altogether while the globe is closed,
// so the 2-D map gets the CPU back.
//
// Contract with the page:
//   const g = new Globe(container, info);   // info: /api/info's JSON
//   await g.open();                          // loads Cesium once, builds the viewer, first frame drawn
//   g.update(tracks, t, nation, view);       // on every picture change while open
//   g.close();                               // hide, stop rendering; open() shows it again
// window.kizuna.globeReady turns true once the first picture is drawn; window.kizuna.globe holds
// {tracks, trajectories, satellites}: the counts drawn.

const CESIUM_BASE = "/vendor/cesium/";
const CAMERA_HEIGHT_M = 8.0e6;
const ORBIT_HALF_SPAN_S = 45 * 60;
const ORBIT_REBUILD_S = 30;
const TILE_WAIT_MS = 30000;

const CSS = {
  background: "#060a12",
  globeBase: "#0d2238",
  air: "#ffd500",
  missile: "#ff3b1f",
  space: "#b264ff",
  unknown: "#d0d0d0",
  trajectory: "#ff8c1a",
  satellite: "#5ce1ff",
  orbit: "#5ce1ff",
  label: "#f4f4f4",
};

let cesiumLoading = null;

function addStylesheet(href) {
  if (document.querySelector(`link[data-kizuna-cesium]`)) return Promise.resolve();
  return new Promise((resolve) => {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    link.dataset.kizunaCesium = "1";
    link.onload = () => resolve();
    link.onerror = () => resolve(); // the viewer still works unstyled; the console shows the failure
    document.head.appendChild(link);
  });
}

/** CesiumJS, loaded once per page from /vendor/cesium/ (a classic script that defines `Cesium`). */
export function loadCesium() {
  if (window.Cesium) return Promise.resolve(window.Cesium);
  if (!cesiumLoading) {
    window.CESIUM_BASE_URL = CESIUM_BASE;
    const css = addStylesheet(CESIUM_BASE + "Widgets/widgets.css");
    const js = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = CESIUM_BASE + "Cesium.js";
      script.async = true;
      script.onload = () => (window.Cesium ? resolve(window.Cesium) : reject(new Error("Cesium.js loaded but defined no Cesium")));
      script.onerror = () => reject(new Error("could not load " + script.src));
      document.head.appendChild(script);
    });
    cesiumLoading = Promise.all([js, css]).then(([Cesium]) => Cesium);
    cesiumLoading.catch(() => {
      cesiumLoading = null;
    });
  }
  return cesiumLoading;
}

async function getJSON(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function finite(...values) {
  return values.every((v) => typeof v === "number" && Number.isFinite(v));
}

/** Index i with times[i] <= t < times[i + 1] (clamped to the ends). */
function bracket(times, t) {
  let lo = 0;
  let hi = times.length - 1;
  if (t <= times[0]) return 0;
  if (t >= times[hi]) return Math.max(0, hi - 1);
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (times[mid] <= t) lo = mid;
    else hi = mid;
  }
  return lo;
}

export class Globe {
  constructor(container, info) {
    this.container = container;
    this.info = info || {};
    this.viewer = null;
    this.isOpen = false;
    this.ready = false;
    this._building = null;
    this._pending = null; // the last update() arguments not drawn yet
    this._historyKey = null;
    this._historyToken = 0;
    this._historyLoaded = false;
    this._satData = null;
    this._satLoading = null;
    this._sats = []; // {id, times, positions: Cartesian3[], point, orbit}
    this._orbitT = null;
    this._tracks = new Map(); // id -> {point, label}
    this._lastT = null;
    this.counts = { tracks: 0, trajectories: 0, satellites: 0 };
  }

  // -- lifecycle --------------------------------------------------------------------------------

  async open() {
    this.container.style.display = "";
    this.isOpen = true;
    if (!this.viewer) {
      if (!this._building) this._building = this._build();
      await this._building;
    } else {
      this.viewer.useDefaultRenderLoop = true;
      this.viewer.resize();
    }
    if (this._pending) this.update(...this._pending);
    await this._renderedFrame();
  }

  close() {
    this.isOpen = false;
    if (this.viewer) this.viewer.useDefaultRenderLoop = false;
    this.container.style.display = "none";
  }

  destroy() {
    this.close();
    if (this.viewer) this.viewer.destroy();
    this.viewer = null;
  }

  async _build() {
    const Cesium = await loadCesium();
    this.Cesium = Cesium;
    Cesium.Ion.defaultAccessToken = "";
    const credits = document.createElement("div");
    credits.style.display = "none";
    this.container.appendChild(credits);
    const holder = document.createElement("div");
    holder.className = "kizuna-globe-viewer";
    holder.style.cssText = "position:absolute;inset:0;";
    if (getComputedStyle(this.container).position === "static") this.container.style.position = "relative";
    this.container.appendChild(holder);

    const baseLayer = Cesium.ImageryLayer.fromProviderAsync(
      Cesium.TileMapServiceImageryProvider.fromUrl(Cesium.buildModuleUrl("Assets/Textures/NaturalEarthII")),
    );
    const viewer = new Cesium.Viewer(holder, {
      baseLayer,
      baseLayerPicker: false,
      geocoder: false,
      terrainProvider: new Cesium.EllipsoidTerrainProvider(),
      skyBox: false,
      skyAtmosphere: false,
      timeline: false,
      animation: false,
      homeButton: false,
      sceneModePicker: false,
      navigationHelpButton: false,
      fullscreenButton: false,
      infoBox: false,
      selectionIndicator: false,
      creditContainer: credits,
      scene3DOnly: true,
      shadows: false,
      orderIndependentTranslucency: false,
      msaaSamples: 1,
      requestRenderMode: true,
      maximumRenderTimeChange: Infinity,
      showRenderLoopErrors: false,
    });
    this.viewer = viewer;
    const scene = viewer.scene;
    scene.backgroundColor = Cesium.Color.fromCssColorString(CSS.background);
    if (scene.sun) scene.sun.show = false;
    if (scene.moon) scene.moon.show = false;
    scene.fog.enabled = false;
    scene.highDynamicRange = false;
    scene.postProcessStages.fxaa.enabled = false;
    const globe = scene.globe;
    globe.showGroundAtmosphere = false;
    globe.enableLighting = false;
    globe.baseColor = Cesium.Color.fromCssColorString(CSS.globeBase);
    globe.maximumScreenSpaceError = 3;
    scene.renderError.addEventListener((_scene, error) => console.error("globe render error", error));

    this._orbits = scene.primitives.add(new Cesium.PolylineCollection());
    this._trajectories = scene.primitives.add(new Cesium.PolylineCollection());
    this._satPoints = scene.primitives.add(new Cesium.PointPrimitiveCollection());
    this._trackPoints = scene.primitives.add(new Cesium.PointPrimitiveCollection());
    this._labels = scene.primitives.add(new Cesium.LabelCollection());
    this._colors = Object.fromEntries(Object.entries(CSS).map(([k, v]) => [k, Cesium.Color.fromCssColorString(v)]));

    this._home();
    if (!this.isOpen) viewer.useDefaultRenderLoop = false;
  }

  _home() {
    const Cesium = this.Cesium;
    const r = this.info.region;
    let lon = 0;
    let lat = 0;
    if (r && finite(r.lon_min_deg, r.lon_max_deg, r.lat_min_deg, r.lat_max_deg)) {
      lat = (r.lat_min_deg + r.lat_max_deg) / 2;
      let span = r.lon_max_deg - r.lon_min_deg;
      if (span < 0) span += 360; // a region across the antimeridian
      lon = r.lon_min_deg + span / 2;
      if (lon > 180) lon -= 360;
    }
    this.viewer.camera.setView({
      destination: Cesium.Cartesian3.fromDegrees(lon, lat, CAMERA_HEIGHT_M),
      orientation: { heading: 0, pitch: -Cesium.Math.PI_OVER_TWO, roll: 0 },
    });
  }

  /** Resolves after the next frame is rendered. */
  _renderedFrame() {
    if (!this.viewer) return Promise.resolve();
    const scene = this.viewer.scene;
    return new Promise((resolve) => {
      const off = scene.postRender.addEventListener(() => {
        off();
        resolve();
      });
      scene.requestRender();
    });
  }

  _render() {
    if (this.viewer && this.isOpen) this.viewer.scene.requestRender();
  }

  // -- the picture ------------------------------------------------------------------------------

  update(tracks, t, nation, view) {
    this._pending = [tracks, t, nation, view];
    if (!this.viewer || !this.isOpen) return;
    this._pending = null;
    this._lastT = t;
    this._drawTracks(tracks || []);
    const key = `${nation}/${view}`;
    if (key !== this._historyKey) {
      this._historyKey = key;
      this._loadHistory(nation, view);
    }
    if (this._satData) this._drawSatellites(t);
    else this._loadSatellites();
    this._publish();
    this._render();
    this._maybeReady();
  }

  _drawTracks(tracks) {
    const Cesium = this.Cesium;
    const seen = new Set();
    for (const rec of tracks) {
      if (!rec || !finite(rec.lon, rec.lat)) continue;
      const alt = finite(rec.alt) ? rec.alt : 0;
      const id = String(rec.id);
      seen.add(id);
      const position = Cesium.Cartesian3.fromDegrees(rec.lon, rec.lat, alt);
      const color = this._colors[rec.cat] || this._colors.unknown;
      let drawn = this._tracks.get(id);
      if (!drawn) {
        drawn = {
          point: this._trackPoints.add({
            position,
            color,
            pixelSize: 9,
            outlineColor: Cesium.Color.BLACK,
            outlineWidth: 1,
            id: { kind: "track", id: rec.id },
          }),
          label: this._labels.add({
            position,
            text: id,
            font: "12px sans-serif",
            fillColor: this._colors.label,
            outlineColor: Cesium.Color.BLACK,
            outlineWidth: 2,
            style: Cesium.LabelStyle.FILL_AND_OUTLINE,
            pixelOffset: new Cesium.Cartesian2(9, -9),
            horizontalOrigin: Cesium.HorizontalOrigin.LEFT,
            verticalOrigin: Cesium.VerticalOrigin.BOTTOM,
          }),
        };
        this._tracks.set(id, drawn);
      } else {
        drawn.point.position = position;
        drawn.label.position = position;
      }
      drawn.point.color = color;
    }
    for (const [id, drawn] of this._tracks) {
      if (seen.has(id)) continue;
      this._trackPoints.remove(drawn.point);
      this._labels.remove(drawn.label);
      this._tracks.delete(id);
    }
    this.counts.tracks = this._tracks.size;
  }

  async _loadHistory(nation, view) {
    const token = ++this._historyToken;
    this._historyLoaded = false;
    const q = new URLSearchParams({ nation, view, category: "missile" });
    let data;
    try {
      data = await getJSON(`/api/history?${q}`);
    } catch (err) {
      console.warn("globe: no missile history", err);
      data = { tracks: {} };
    }
    if (token !== this._historyToken || !this.viewer) return;
    const Cesium = this.Cesium;
    this._trajectories.removeAll();
    let count = 0;
    for (const tr of Object.values(data.tracks || {})) {
      const flat = [];
      for (let i = 0; i < tr.lon.length; i++) {
        if (finite(tr.lon[i], tr.lat[i], tr.alt[i])) flat.push(tr.lon[i], tr.lat[i], tr.alt[i]);
      }
      if (flat.length < 6) continue;
      this._trajectories.add({
        positions: Cesium.Cartesian3.fromDegreesArrayHeights(flat),
        width: 2,
        material: Cesium.Material.fromType("Color", { color: this._colors.trajectory }),
      });
      count++;
    }
    this.counts.trajectories = count;
    this._historyLoaded = true;
    this._publish();
    this._render();
    this._maybeReady();
  }

  _loadSatellites() {
    if (this._satLoading) return;
    this._satLoading = getJSON("/api/satellites")
      .catch((err) => {
        console.warn("globe: no satellites", err);
        return { times: [], satellites: [] };
      })
      .then((data) => {
        const Cesium = this.Cesium;
        const times = data.times || [];
        this._satData = { times };
        this._sats = [];
        for (const s of data.satellites || []) {
          const positions = [];
          let ok = s.lon.length === times.length && times.length > 0;
          for (let i = 0; ok && i < times.length; i++) {
            if (!finite(s.lon[i], s.lat[i], s.alt[i])) ok = false;
            else positions.push(Cesium.Cartesian3.fromDegrees(s.lon[i], s.lat[i], s.alt[i]));
          }
          if (!ok) continue;
          this._sats.push({
            id: s.id,
            positions,
            point: this._satPoints.add({
              position: positions[0],
              color: this._colors.satellite,
              pixelSize: 5,
              outlineColor: Cesium.Color.BLACK,
              outlineWidth: 1,
              id: { kind: "satellite", id: s.id },
            }),
            orbit: null,
          });
        }
        this._orbitT = null;
        if (this._lastT !== null) this._drawSatellites(this._lastT);
        this._publish();
        this._render();
        this._maybeReady();
      });
  }

  _drawSatellites(t) {
    const Cesium = this.Cesium;
    const times = this._satData.times;
    if (!times.length || !finite(t)) {
      this.counts.satellites = 0;
      return;
    }
    // positions: linear in Earth-fixed Cartesian between 10 s samples (chord sag is ~0.1 km)
    const i = bracket(times, t);
    const j = Math.min(i + 1, times.length - 1);
    const span = times[j] - times[i];
    const f = span > 0 ? Math.min(1, Math.max(0, (t - times[i]) / span)) : 0;
    for (const sat of this._sats) {
      sat.point.position = Cesium.Cartesian3.lerp(sat.positions[i], sat.positions[j], f, new Cesium.Cartesian3());
    }
    this.counts.satellites = this._sats.length;
    // orbits: the samples within ±45 min, rebuilt only when t moved far enough
    if (this._orbitT !== null && Math.abs(t - this._orbitT) < ORBIT_REBUILD_S) return;
    this._orbitT = t;
    let a = 0;
    while (a < times.length && times[a] < t - ORBIT_HALF_SPAN_S) a++;
    let b = times.length - 1;
    while (b >= 0 && times[b] > t + ORBIT_HALF_SPAN_S) b--;
    for (const sat of this._sats) {
      const positions = sat.positions.slice(a, b + 1);
      if (positions.length < 2) {
        if (sat.orbit) sat.orbit.show = false;
        continue;
      }
      if (!sat.orbit) {
        sat.orbit = this._orbits.add({
          positions,
          width: 1,
          material: Cesium.Material.fromType("Color", { color: this._colors.orbit.withAlpha(0.55) }),
        });
      } else {
        sat.orbit.positions = positions;
        sat.orbit.show = true;
      }
    }
  }

  _publish() {
    window.kizuna = window.kizuna || {};
    window.kizuna.globe = { ...this.counts };
  }

  /** globeReady: tracks, trajectories and satellites drawn, the imagery in, and a frame rendered. */
  _maybeReady() {
    if (this.ready || this._readyWaiting || !this._historyLoaded || !this._satData || this._lastT === null) return;
    this._readyWaiting = true;
    const scene = this.viewer.scene;
    const started = performance.now();
    const off = scene.postRender.addEventListener(() => {
      const tilesIn = scene.globe.tilesLoaded || performance.now() - started > TILE_WAIT_MS;
      if (!tilesIn) {
        setTimeout(() => scene.requestRender(), 100);
        return;
      }
      off();
      this.ready = true;
      window.kizuna = window.kizuna || {};
      this._publish();
      window.kizuna.globeReady = true;
    });
    scene.requestRender();
  }
}
