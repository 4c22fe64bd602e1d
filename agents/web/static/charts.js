// Small SVG charts (no library): bars and a line over a day's time buckets.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// series: [{values, color, label, kind: "bar"|"line"}]; bucket: seconds per value
function chart(box, series, { bucket, start, max, format }) {
  const W = 420, H = 180, L = 34, B = 20, T = 14;
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const top = max || Math.max(4, ...series.flatMap((s) => s.values.filter((v) => v !== null)));
  const x = (i) => L + (i * (W - L - 4)) / n, y = (v) => H - B - (v / top) * (H - B - T);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img" });
  for (const f of [0, 0.5, 1]) {
    root.append(svg("line", { x1: L, x2: W, y1: y(top * f), y2: y(top * f), stroke: "#eaeef2" }));
    root.append(svg("text", { x: 2, y: y(top * f) + 3 }, format ? format(top * f) : Math.round(top * f)));
  }
  const every = Math.max(1, Math.ceil(n / 6));
  for (let i = 0; i < n; i += every) {
    const t = new Date((start + i * bucket) * 1000);
    const label = `${String(t.getHours()).padStart(2, "0")}:${String(t.getMinutes()).padStart(2, "0")}`;
    root.append(svg("text", { x: x(i), y: H - 5 }, label));
  }
  const bars = series.filter((s) => s.kind === "bar");
  bars.forEach((s, k) => {
    const w = Math.max(1, (W - L - 4) / n / bars.length - 1);
    s.values.forEach((v, i) => {
      if (!v) return;
      root.append(svg("rect", { x: x(i) + k * w, y: y(v), width: w, height: H - B - y(v), fill: s.color },
      ));
    });
  });
  for (const s of series.filter((s) => s.kind === "line")) {
    const pts = s.values.map((v, i) => (v === null ? null : `${x(i + 0.5)},${y(v)}`)).filter(Boolean);
    if (pts.length) root.append(svg("polyline", { points: pts.join(" "), fill: "none", stroke: s.color,
      "stroke-width": 2 }));
    if (pts.length === 1) {
      const [cx, cy] = pts[0].split(",");
      root.append(svg("circle", { cx, cy, r: 3, fill: s.color }));
    }
  }
  let lx = L;
  for (const s of series) {
    root.append(svg("rect", { x: lx, y: 2, width: 8, height: 8, fill: s.color }));
    root.append(svg("text", { x: lx + 11, y: 10 }, s.label));
    lx += 14 + s.label.length * 11;
  }
  box.replaceChildren(root);
}
