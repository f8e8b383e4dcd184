// Track symbols in one WebGL draw: a MapLibre custom layer that draws every track as a point
// sprite textured from an atlas of the milsymbol images.
//
// A MapLibre symbol layer runs its full symbol shader on four vertices per icon and re-places every
// icon on the main thread while the map moves; with 5,000 tracks on a software renderer that alone
// held the map under 15 frames per second (docs/cop.md, "Frame rate"). Here a track is one point
// sprite: a vertex with its Mercator position, its atlas cell and its image size. The vertex
// shader projects the position with the map's matrix and snaps the sprite to whole pixels, so the
// image is drawn texel for pixel, as crisp as MapLibre's own icons. One vertex a track, not a quad
// of four, and not instancing: a software renderer (SwiftShader) runs each instance as a draw of
// its own, which made 5,000 instanced icons slower than the symbol layer. (A point whose centre
// leaves the viewport is clipped whole, so an icon at the very edge of the map vanishes a few
// pixels early.)

const FLOATS = 8; // x, y (Mercator 0…1), u0, v0, u1, v1 (atlas cell), width, height (device px)

const VERTEX = `#version 300 es
uniform highp mat4 u_matrix;
uniform highp vec2 u_viewport;
layout(location = 0) in highp vec2 a_pos;
layout(location = 1) in vec4 a_cell;
layout(location = 2) in vec2 a_size;
flat out vec4 v_cell;
flat out vec2 v_size;
flat out float v_side;
void main() {
  vec4 clip = u_matrix * vec4(a_pos, 0.0, 1.0);
  vec2 centre = (clip.xy / clip.w * 0.5 + 0.5) * u_viewport;
  float side = max(a_size.x, a_size.y);
  // a sprite's centre on a pixel centre if its side is odd, on a pixel corner if even
  centre = floor(centre - 0.5 * side + 0.5) + 0.5 * side;
  gl_Position = vec4(centre / u_viewport * 2.0 - 1.0, 0.0, 1.0);
  gl_PointSize = side;
  v_cell = a_cell;
  v_size = a_size;
  v_side = side;
}`;

const FRAGMENT = `#version 300 es
precision mediump float;
uniform sampler2D u_atlas;
flat in vec4 v_cell;
flat in vec2 v_size;
flat in float v_side;
out vec4 colour;
void main() {
  // gl_PointCoord runs from the sprite's top left; the image is centred in the square sprite
  vec2 local = (gl_PointCoord * v_side - 0.5 * (v_side - v_size)) / v_size;
  if (any(lessThan(local, vec2(0.0))) || any(greaterThan(local, vec2(1.0)))) discard;
  vec4 texel = texture(u_atlas, mix(v_cell.xy, v_cell.zw, local));
  if (texel.a < 0.004) discard;
  colour = texel;
}`;

export function mercator(lon, lat) {
  const clamped = Math.max(-85.0511, Math.min(85.0511, lat));
  const y = (180 - (180 / Math.PI) * Math.log(Math.tan(Math.PI / 4 + (clamped * Math.PI) / 360))) / 360;
  return [(180 + lon) / 360, y];
}

function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
    throw new Error(`track icon shader: ${gl.getShaderInfoLog(shader)}`);
  }
  return shader;
}

export class TrackIconLayer {
  // makeImage(name) -> {width, height, data: RGBA (not premultiplied)} or null.
  constructor(id, makeImage) {
    this.id = id;
    this.type = "custom";
    this.renderingMode = "2d";
    this.makeImage = makeImage;
    this.images = new Map(); // name -> {width, height, data, cell}
    this.atlasWidth = 1;
    this.atlasHeight = 1;
    this.atlasDirty = true;
    this.items = [];         // [{x, y, name}] in draw order (last on top)
    this.data = new Float32Array(0);
    this.dataDirty = true;
    this.map = null;
    this.gl = null;
  }

  // ---- data -----------------------------------------------------------------------------------

  setItems(items) {
    // items: [{lon, lat, name, id}] in draw order; the last is drawn on top. A new image name
    // grows the atlas (every cell's texture coordinates change), so new images come first.
    for (const it of items) if (!this.images.has(it.name)) this.addImage(it.name);
    const drawn = items.filter((it) => this.images.has(it.name));
    const data = new Float32Array(drawn.length * FLOATS);
    this.items = drawn.map((it, i) => {
      const [x, y] = mercator(it.lon, it.lat);
      const img = this.images.get(it.name);
      data.set([x, y, img.u0, img.v0, img.u1, img.v1, img.width, img.height], i * FLOATS);
      return { x, y, id: it.id, width: img.width, height: img.height };
    });
    this.data = data;
    this.dataDirty = true;
    if (this.map) this.map.triggerRepaint();
  }

  addImage(name) {
    const img = this.makeImage(name);
    if (!img) return;
    this.images.set(name, { ...img });
    // one row of cells, each as wide as its image; texture coordinates in texels / atlas size
    let x = 0;
    let h = 1;
    for (const im of this.images.values()) { im.ax = x; x += im.width + 1; h = Math.max(h, im.height); }
    this.atlasWidth = x;
    this.atlasHeight = h;
    for (const im of this.images.values()) {
      im.u0 = im.ax / this.atlasWidth;
      im.u1 = (im.ax + im.width) / this.atlasWidth;
      im.v0 = 0;
      im.v1 = im.height / this.atlasHeight;
    }
    this.atlasDirty = true;
  }

  pick(point, zoom, unproject) {
    // The track whose icon covers a screen point (CSS px), topmost first; null if none.
    const ll = unproject(point);
    const [mx, my] = mercator(ll.lng, ll.lat);
    const world = 512 * 2 ** zoom;
    const dpr = window.devicePixelRatio || 1;
    for (let i = this.items.length - 1; i >= 0; i--) {
      const it = this.items[i];
      if (Math.abs(it.x - mx) * world <= it.width / dpr / 2 && Math.abs(it.y - my) * world <= it.height / dpr / 2) {
        return it.id;
      }
    }
    return null;
  }

  // ---- MapLibre custom layer interface --------------------------------------------------------

  onAdd(map, gl) {
    this.map = map;
    this.gl = gl;
    const program = gl.createProgram();
    gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(`track icon program: ${gl.getProgramInfoLog(program)}`);
    this.program = program;
    this.uMatrix = gl.getUniformLocation(program, "u_matrix");
    this.uViewport = gl.getUniformLocation(program, "u_viewport");
    this.uAtlas = gl.getUniformLocation(program, "u_atlas");

    this.vao = gl.createVertexArray();
    gl.bindVertexArray(this.vao);
    this.vertices = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, this.vertices);
    for (const [loc, size, offset] of [[0, 2, 0], [1, 4, 8], [2, 2, 24]]) {
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, size, gl.FLOAT, false, FLOATS * 4, offset);
    }
    gl.bindVertexArray(null);
    this.texture = gl.createTexture();
    this.atlasDirty = true;
    this.dataDirty = true;
  }

  onRemove(_map, gl) {
    gl.deleteProgram(this.program);
    gl.deleteBuffer(this.vertices);
    gl.deleteVertexArray(this.vao);
    gl.deleteTexture(this.texture);
    this.map = null;
    this.gl = null;
  }

  uploadAtlas(gl) {
    const w = this.atlasWidth;
    const h = this.atlasHeight;
    const pixels = new Uint8Array(w * h * 4);
    for (const im of this.images.values()) {
      for (let row = 0; row < im.height; row++) {
        for (let col = 0; col < im.width; col++) {
          const s = (row * im.width + col) * 4;
          const d = (row * w + im.ax + col) * 4;
          const a = im.data[s + 3] / 255; // premultiplied, as MapLibre blends
          pixels[d] = Math.round(im.data[s] * a);
          pixels[d + 1] = Math.round(im.data[s + 1] * a);
          pixels[d + 2] = Math.round(im.data[s + 2] * a);
          pixels[d + 3] = im.data[s + 3];
        }
      }
    }
    gl.bindTexture(gl.TEXTURE_2D, this.texture);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, w, h, 0, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    this.atlasDirty = false;
  }

  render(gl, args) {
    if (!this.items.length) return;
    gl.useProgram(this.program);
    gl.activeTexture(gl.TEXTURE0);
    if (this.atlasDirty) this.uploadAtlas(gl);
    gl.bindTexture(gl.TEXTURE_2D, this.texture);
    gl.bindVertexArray(this.vao);
    const n = this.items.length;
    if (this.dataDirty) {
      gl.bindBuffer(gl.ARRAY_BUFFER, this.vertices);
      gl.bufferData(gl.ARRAY_BUFFER, this.data, gl.DYNAMIC_DRAW);
      this.dataDirty = false;
    }
    gl.uniformMatrix4fv(this.uMatrix, false, new Float32Array(args.defaultProjectionData.mainMatrix));
    gl.uniform2f(this.uViewport, gl.drawingBufferWidth, gl.drawingBufferHeight);
    gl.uniform1i(this.uAtlas, 0);
    gl.disable(gl.DEPTH_TEST);
    gl.disable(gl.STENCIL_TEST);
    gl.disable(gl.CULL_FACE);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    gl.drawArrays(gl.POINTS, 0, n);
    gl.bindVertexArray(null);
  }
}
