// slowlane dashboard: line charts in SVG, drawn here (no library: a few hundred lines cover
// what the page needs, and the gateway serves every file itself). One chart is a figure
// with lines over a fixed time window ending now, event marks as vertical lines, a y axis
// from 0, and a cursor that the mouse or the arrow keys move, with a tip listing the values
// under it. What to draw is dashboard.js's.
"use strict";

const SlowlaneCharts = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 320;
  const HEIGHT = 130;
  const PAD = { left: 46, right: 8, top: 8, bottom: 18 };
  // Line colours with at least 3:1 contrast on white (WCAG 1.4.11), told apart by dash too
  const COLORS = ["#0969da", "#bf3989", "#1a7f37", "#8250df", "#9a6700", "#cf222e", "#1b7c83", "#57606a"];
  const DASHES = ["none", "5 3"]; // every other line dashed, as its legend swatch

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  }

  function niceMax(max) {
    if (!(max > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(max)));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= max) return step * power;
    return 10 * power;
  }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString();
  }

  // spec: {times: [ms], lines: [{label, values: [number|null]}], marks: [{t, kind, subject, text}],
  //        start, end (ms), format(value) -> text, axisFormat (shorter, for the y axis),
  //        empty (the legend's words when there is no line)}
  function draw(figure, spec) {
    const state = figure._chart || (figure._chart = { cursor: null });
    state.spec = spec;
    const inner = { w: WIDTH - PAD.left - PAD.right, h: HEIGHT - PAD.top - PAD.bottom };
    const span = Math.max(1, spec.end - spec.start);
    const x = (t) => PAD.left + ((t - spec.start) / span) * inner.w;
    let max = 0;
    for (const line of spec.lines) for (const v of line.values) if (v !== null && v > max) max = v;
    const top = niceMax(max);
    const y = (v) => PAD.top + inner.h - (v / top) * inner.h;
    state.x = x;

    const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", class: "plot",
      "aria-label": `${figure.querySelector("figcaption").textContent}: ${describe(spec)}` });
    // Grid and y labels: 0, half, top
    for (const fraction of [0, 0.5, 1]) {
      const at = y(top * fraction);
      root.append(svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: at, y2: at, class: "grid" }));
      const label = svg("text", { x: PAD.left - 4, y: at + 3, class: "axis", "text-anchor": "end" });
      label.textContent = (spec.axisFormat || spec.format)(top * fraction);
      root.append(label);
    }
    // x labels: the window's start, two between, now
    for (const fraction of [1, 2 / 3, 1 / 3, 0]) {
      const back = span * fraction;
      const label = svg("text", { x: x(spec.end - back), y: HEIGHT - 4, class: "axis",
        "text-anchor": fraction === 0 ? "end" : fraction === 1 ? "start" : "middle" });
      label.textContent = fraction === 0 ? "now" : back >= 120000 ? `-${Math.round(back / 60000)} min`
        : `-${Math.round(back / 1000)} s`;
      root.append(label);
    }
    // Event marks
    for (const mark of spec.marks) {
      if (mark.t < spec.start || mark.t > spec.end) continue;
      const line = svg("line", { x1: x(mark.t), x2: x(mark.t), y1: PAD.top, y2: PAD.top + inner.h,
        class: `mark mark-${mark.kind}`, "data-kind": mark.kind, "data-subject": mark.subject });
      const title = svg("title");
      title.textContent = `${clock(mark.t)} ${mark.kind.replace("_", " ")} ${mark.subject}: ${mark.text}`;
      line.append(title);
      root.append(line);
    }
    // Lines, broken where a point has no value
    spec.lines.forEach((line, index) => {
      let d = "";
      let pen = false;
      let points = 0;
      line.values.forEach((v, i) => {
        const t = spec.times[i];
        if (v === null || v === undefined || t < spec.start) { pen = false; return; }
        d += `${pen ? "L" : "M"}${x(t).toFixed(1)} ${y(v).toFixed(1)}`;
        pen = true;
        points++;
      });
      const last = [...line.values].reverse().find((v) => v !== null && v !== undefined);
      root.append(svg("path", { d: d || "M0 0", class: "series", stroke: COLORS[index % COLORS.length],
        "stroke-dasharray": DASHES[index % 2],
        "data-label": line.label, "data-points": points, "data-last": last === undefined ? "" : last }));
    });
    const cursor = svg("line", { y1: PAD.top, y2: PAD.top + inner.h, class: "cursor", visibility: "hidden" });
    root.append(cursor);
    state.cursorLine = cursor;

    const old = figure.querySelector("svg.plot");
    if (old) old.replaceWith(root); else figure.append(root);
    drawLegend(figure, spec);
    attach(figure, state);
    if (state.cursor !== null) showCursor(figure, state, Math.min(state.cursor, spec.times.length - 1));
  }

  function describe(spec) {
    if (!spec.lines.length) return "no data";
    return spec.lines.map((line) => {
      const last = [...line.values].reverse().find((v) => v !== null && v !== undefined);
      return `${line.label} ${last === undefined ? "no value" : spec.format(last)}`;
    }).join(", ");
  }

  function drawLegend(figure, spec) {
    let legend = figure.querySelector(".legend");
    if (!legend) { legend = document.createElement("ul"); legend.className = "legend"; figure.append(legend); }
    legend.replaceChildren(...spec.lines.map((line, index) => {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.borderColor = COLORS[index % COLORS.length];
      if (index % 2) swatch.style.borderStyle = "dashed";
      item.append(swatch, line.label);
      return item;
    }));
    if (!spec.lines.length) {
      const item = document.createElement("li");
      item.className = "muted";
      item.textContent = spec.empty || "no data yet";
      legend.append(item);
    }
  }

  function tip(figure) {
    let node = figure.querySelector(".tip");
    if (!node) { node = document.createElement("div"); node.className = "tip"; node.hidden = true; figure.append(node); }
    return node;
  }

  function showCursor(figure, state, index) {
    const spec = state.spec;
    if (index < 0 || index >= spec.times.length) return;
    state.cursor = index;
    const t = spec.times[index];
    const at = state.x(t);
    state.cursorLine.setAttribute("x1", at);
    state.cursorLine.setAttribute("x2", at);
    state.cursorLine.setAttribute("visibility", "visible");
    const node = tip(figure);
    const rows = [clock(t)];
    for (const line of spec.lines) {
      const v = line.values[index];
      rows.push(`${line.label}: ${v === null || v === undefined ? "–" : spec.format(v)}`);
    }
    const interval = spec.times.length > 1 ? spec.times[1] - spec.times[0] : 1000;
    for (const mark of spec.marks)
      if (Math.abs(mark.t - t) <= interval) rows.push(`${mark.kind.replace("_", " ")} ${mark.subject}: ${mark.text}`);
    node.replaceChildren(...rows.map((row, i) => {
      const line = document.createElement(i ? "div" : "strong");
      line.textContent = row;
      return line;
    }));
    node.hidden = false;
    node.dataset.index = index;
  }

  function hideCursor(figure, state) {
    state.cursor = null;
    if (state.cursorLine) state.cursorLine.setAttribute("visibility", "hidden");
    tip(figure).hidden = true;
  }

  function nearest(state, clientX, rect) {
    const spec = state.spec;
    const t = spec.start + ((clientX - rect.left) / rect.width * WIDTH - PAD.left) /
      (WIDTH - PAD.left - PAD.right) * (spec.end - spec.start);
    let best = -1;
    for (let i = 0; i < spec.times.length; i++)
      if (best < 0 || Math.abs(spec.times[i] - t) < Math.abs(spec.times[best] - t)) best = i;
    return best;
  }

  function attach(figure, state) {
    if (state.attached) return;
    state.attached = true;
    figure.addEventListener("mousemove", (event) => {
      const plot = figure.querySelector("svg.plot");
      if (plot && state.spec.times.length) showCursor(figure, state, nearest(state, event.clientX, plot.getBoundingClientRect()));
    });
    figure.addEventListener("mouseleave", () => hideCursor(figure, state));
    figure.addEventListener("blur", () => hideCursor(figure, state));
    figure.addEventListener("keydown", (event) => {
      const count = state.spec.times.length;
      if (!count) return;
      const current = state.cursor === null ? count - 1 : state.cursor;
      const moves = { ArrowLeft: -1, ArrowRight: 1, PageUp: -60, PageDown: 60 };
      if (event.key in moves) showCursor(figure, state, Math.max(0, Math.min(count - 1, current + moves[event.key])));
      else if (event.key === "Home") showCursor(figure, state, 0);
      else if (event.key === "End") showCursor(figure, state, count - 1);
      else if (event.key === "Escape") hideCursor(figure, state);
      else return;
      event.preventDefault();
    });
  }

  return { draw };
})();
