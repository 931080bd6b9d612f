// slowlane dashboard: polls /dashboard/data.json every second and renders services, routes
// and workers. Rates and percentiles come from the difference between the newest snapshot
// and one about WINDOW_MS older, as Prometheus' rate() and histogram_quantile() would. It
// also polls /dashboard/history.json (the gateway's record of the last 15 minutes) for the
// charts (charts.js) and the events, says at the top whether the cluster is healthy, and
// hands the services and hosts to the actions (actions.js).
/* global SlowlaneCharts, SlowlaneActions */
"use strict";

const DATA_URL = "/dashboard/data.json";
const HISTORY_URL = "/dashboard/history.json";
const HISTORY_MS = 15 * 60 * 1000;
const MIN_WINDOW_MS = 60 * 1000; // a gateway up for seconds still gets a readable minute
// "250 ms", "1.5 s", "80 µs": short enough for a chart's axis
function shortSeconds(seconds) {
  if (seconds === 0) return "0";
  const [value, unit] = seconds < 0.001 ? [seconds * 1e6, "µs"] : seconds < 1 ? [seconds * 1000, "ms"] : [seconds, "s"];
  return `${Number(value.toPrecision(3))} ${unit}`;
}
// The gateway's figures by chart: series suffix, how to show a value
const rate = (v) => v.toFixed(v < 10 ? 1 : 0) + "/s";
const count = (v) => String(Math.round(v));
const axisRate = (v) => Number(v.toPrecision(2)) + "/s";
const axisCount = (v) => String(Number(v.toPrecision(2)));
const CHARTS = {
  rps: { kind: "route", figures: ["rps"], format: rate, axisFormat: axisRate },
  p99: { kind: "route", figures: ["p99_ms"], format: (v) => shortSeconds(v / 1000) },
  p50: { kind: "route", figures: ["p50_ms"], format: (v) => shortSeconds(v / 1000) },
  errors: { kind: "route", figures: ["err4xx", "err5xx"], format: rate, axisFormat: axisRate },
  queued: { kind: "service", figures: ["queued"], format: count, axisFormat: axisCount },
  wait: { kind: "service", figures: ["oldest_wait_ms"], format: (v) => shortSeconds(v / 1000) },
  workers: { kind: "service", figures: ["busy", "idle"], format: count, axisFormat: axisCount },
  restarts: { kind: "service", figures: ["restarts"], format: count, axisFormat: axisCount },
};
const recorded = { seq: 0, markSeq: 0, t: [], series: {}, marks: [] };
const POLL_MS = 1000;
const WINDOW_MS = 10000;
const history = []; // [{t, data}], oldest first
let token = sessionStorage.getItem("slowlane-token") || "";
let knownWorkers = null; // identity -> registered_ms at the previous poll
const events = []; // newest first: {time, kind, worker}
const MAX_EVENTS = 30;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  if (seconds === Infinity) return "> 60 s";
  if (seconds < 0.001) return (seconds * 1e6).toFixed(0) + " µs";
  if (seconds < 1) return (seconds * 1000).toFixed(1) + " ms";
  return seconds.toFixed(2) + " s";
}

// Quantile q of a histogram given as non-cumulative bucket counts over finite upper
// bounds (the last bucket is +Inf), interpolating linearly inside the bucket.
function quantile(q, bounds, counts) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (seen + counts[i] >= rank && counts[i] > 0) {
      if (i >= bounds.length) return Infinity;
      const lower = i === 0 ? 0 : bounds[i - 1];
      return lower + (bounds[i] - lower) * ((rank - seen) / counts[i]);
    }
    seen += counts[i];
  }
  return null;
}

function diff(now, before) {
  return now.map((value, i) => value - ((before && before[i]) || 0));
}

function baseline() {
  // The oldest snapshot within the window (or the oldest we have).
  const newest = history[history.length - 1];
  for (const entry of history) if (newest.t - entry.t <= WINDOW_MS) return entry;
  return history[0];
}

// "1..8, last 4→6 queue_wait 3 s ago" for a service with an autoscaling policy, else "".
function describeAutoscale(policy) {
  if (!policy) return "";
  let text = `${policy.min}..${policy.max}`;
  if (policy.last)
    text += `, last ${policy.last.from}→${policy.last.to} ${policy.last.reason} ` +
      `${formatSeconds(policy.last.ago_ms / 1000)} ago`;
  if (policy.decider === false) text += " (another broker decides)";
  return text;
}

function renderServices(data, old, seconds) {
  const body = document.querySelector("#services tbody");
  body.replaceChildren();
  const services = (data.broker && data.broker.services) || [];
  const bounds = ((data.broker && data.broker.wait_bounds_ms) || []).map((ms) => ms / 1000);
  const before = new Map(((old && old.broker && old.broker.services) || []).map((s) => [s.name, s]));
  for (const service of services) {
    const prior = before.get(service.name);
    const waits = diff(service.queue_wait.buckets, prior && prior.queue_wait.buckets);
    const rate = seconds > 0 && prior ? (service.requests - prior.requests) / seconds : 0;
    const errors = Object.values(service.errors).reduce((a, b) => a + b, 0);
    const restarts = Object.values(service.exits).reduce((a, b) => a + b, 0);
    body.append(el("tr", { "data-service": service.name },
      el("td", {}, service.name),
      el("td", { class: "num", "data-field": "queued" }, service.queued),
      el("td", { class: "num" }, formatSeconds(quantile(0.5, bounds, waits))),
      el("td", { class: "num" }, formatSeconds(quantile(0.99, bounds, waits))),
      el("td", { class: "num", "data-field": "idle" }, service.idle),
      el("td", { class: "num", "data-field": "busy" }, service.busy),
      el("td", { class: "num" }, rate.toFixed(1)),
      el("td", { class: "num" }, errors),
      el("td", { class: "num", "data-field": "restarts" }, restarts),
      el("td", { "data-field": "autoscale" }, describeAutoscale(service.autoscale_policy))));
  }
  if (!services.length)
    body.append(el("tr", {}, el("td", { colspan: 10, class: "muted" }, data.broker ? "no services" : "broker stats unavailable")));
}

function renderRoutes(data, old, seconds) {
  const body = document.querySelector("#routes tbody");
  body.replaceChildren();
  const before = new Map(((old && old.routes) || []).map((r) => [r.route, r]));
  for (const route of data.routes || []) {
    if (route.route === "none" && route.requests === 0) continue;
    const prior = before.get(route.route);
    const latency = diff(route.latency_buckets, prior && prior.latency_buckets);
    const rate = seconds > 0 && prior ? (route.requests - prior.requests) / seconds : 0;
    const byClass = { 2: 0, 4: 0, 5: 0 };
    for (const [status, count] of Object.entries(route.statuses)) {
      const cls = status[0];
      if (cls in byClass) byClass[cls] += count;
    }
    body.append(el("tr", { "data-route": route.route },
      el("td", {}, route.route === "none" ? "(no route)" : route.route),
      el("td", {}, route.service || "–"),
      el("td", { class: "num" }, rate.toFixed(1)),
      el("td", { class: "num" }, formatSeconds(quantile(0.5, route.latency_bounds_s, latency))),
      el("td", { class: "num" }, formatSeconds(quantile(0.99, route.latency_bounds_s, latency))),
      el("td", { class: "num" }, byClass[2]),
      el("td", { class: "num" }, byClass[4]),
      el("td", { class: "num" }, byClass[5])));
  }
}

function renderWorkers(data) {
  const hosts = document.getElementById("hosts");
  hosts.replaceChildren();
  const workers = (data.broker && data.broker.workers) || [];
  const heartbeat = (data.broker && data.broker.heartbeat_ms) || 1000;
  document.getElementById("worker-count").textContent = "(" + workers.length + ")";
  const byHost = new Map();
  for (const worker of workers) {
    if (!byHost.has(worker.host)) byHost.set(worker.host, []);
    byHost.get(worker.host).push(worker);
  }
  for (const host of [...byHost.keys()].sort()) {
    const rows = byHost.get(host).sort((a, b) => a.identity.localeCompare(b.identity));
    const table = el("table", { "data-host": host },
      el("thead", {}, el("tr", {}, el("th", {}, "worker"), el("th", {}, "supervisor · slot"),
        el("th", {}, "service"), el("th", {}, "state"), el("th", { class: "num" }, "heartbeat age"),
        el("th", { class: "num" }, "up"))));
    const body = el("tbody");
    for (const worker of rows) {
      const parts = worker.identity.split("/");
      const late = worker.heartbeat_age_ms > heartbeat * 1.5;
      body.append(el("tr", { "data-worker": worker.identity, "data-state": worker.state, "data-service": worker.service,
        "data-registered": worker.registered_ms },
        el("td", {}, worker.identity),
        el("td", {}, parts.length === 3 ? "pid " + parts[1] + " · slot " + parts[2] : "–"),
        el("td", {}, worker.service),
        el("td", { class: "state-" + worker.state }, worker.state),
        el("td", { class: "num" + (late ? " late" : "") }, worker.heartbeat_age_ms + " ms"),
        el("td", { class: "num" }, formatSeconds(worker.uptime_ms / 1000))));
    }
    table.append(body);
    hosts.append(el("h3", {}, host + " ", el("span", { class: "muted" }, rows.length + " workers")), table);
  }
  if (!workers.length) hosts.append(el("p", { class: "muted" }, "no workers registered"));
}

// A worker is one registration: the same identity registered again (a restarted process)
// is a departure followed by an arrival.
function trackWorkers(data) {
  const workers = (data.broker && data.broker.workers) || [];
  const now = new Map(workers.map((w) => [w.identity, w]));
  if (knownWorkers) {
    const time = new Date().toLocaleTimeString();
    for (const [identity, before] of knownWorkers) {
      const after = now.get(identity);
      if (!after || after.registered_ms !== before.registered_ms)
        events.unshift({ time, kind: "gone", worker: before });
    }
    for (const [identity, after] of now) {
      const before = knownWorkers.get(identity);
      if (!before || after.registered_ms !== before.registered_ms)
        events.unshift({ time, kind: "arrived", worker: after });
    }
    events.length = Math.min(events.length, MAX_EVENTS);
  }
  knownWorkers = new Map([...now].map(([identity, w]) => [identity, w]));
  const list = document.getElementById("events");
  if (!events.length) return;
  list.replaceChildren(...events.map((e) => el("li", { class: e.kind, "data-event": e.kind,
    "data-worker": e.worker.identity, "data-registered": e.worker.registered_ms },
    e.time + " " + e.worker.identity + " (" + e.worker.service + ") " +
    (e.kind === "gone" ? "went away" : "arrived"))));
}

// Jobs by state (docs/jobs.md), as the jobs service counted them; null: no jobs service.
function renderJobs(data) {
  const body = document.querySelector("#jobs tbody");
  const states = ["queued", "running", "done", "failed", "cancelled", "expired"];
  const row = data.jobs
    ? el("tr", {}, ...states.map((state) => el("td", {}, data.jobs[state] ?? 0)))
    : el("tr", {}, el("td", { colspan: "6", class: "muted" }, "no jobs service"));
  body.replaceChildren(row);
}

// Appends what history.json returned to what the page has, keeping 15 minutes.
function record(answer) {
  const known = recorded.t.length;
  for (const [name, values] of Object.entries(answer.series || {})) {
    if (!recorded.series[name]) recorded.series[name] = new Array(known).fill(null);
    recorded.series[name].push(...values);
  }
  recorded.t.push(...(answer.t || []));
  for (const values of Object.values(recorded.series))
    while (values.length < recorded.t.length) values.push(null);
  recorded.marks.push(...(answer.marks || []));
  recorded.seq = answer.seq || recorded.seq;
  recorded.markSeq = answer.mark_seq || recorded.markSeq;
  const start = (recorded.t[recorded.t.length - 1] || Date.now()) - HISTORY_MS;
  let drop = 0;
  while (drop < recorded.t.length && recorded.t[drop] < start) drop++;
  if (drop) {
    recorded.t.splice(0, drop);
    for (const values of Object.values(recorded.series)) values.splice(0, drop);
  }
  recorded.marks = recorded.marks.filter((mark) => mark.t >= start);
}

// The lines of one chart: one per route or service (and figure, when a chart has two).
function chartLines(chart) {
  const lines = [];
  const names = new Set();
  for (const name of Object.keys(recorded.series)) {
    const [kind, ...rest] = name.split(":");
    if (kind === chart.kind) names.add(rest.slice(0, -1).join(":"));
  }
  for (const subject of [...names].sort())
    for (const figure of chart.figures) {
      const values = recorded.series[`${chart.kind}:${subject}:${figure}`];
      // A line of zeros says nothing a legend cannot: "0 for every route"
      if (!values || values.every((v) => v === null || v === 0)) continue;
      const suffix = chart.figures.length > 1 ? " " + figure.replace("err", "") : "";
      lines.push({ label: subject + suffix, values });
    }
  return lines;
}

function renderCharts() {
  const end = recorded.t[recorded.t.length - 1] || Date.now();
  const span = Math.min(HISTORY_MS, Math.max(MIN_WINDOW_MS, end - (recorded.t[0] || end)));
  for (const figure of document.querySelectorAll("figure.chart")) {
    const chart = CHARTS[figure.dataset.chart];
    const any = Object.keys(recorded.series).some((name) => name.startsWith(chart.kind + ":"));
    SlowlaneCharts.draw(figure, { times: recorded.t, lines: chartLines(chart), start: end - span,
      end, format: chart.format, axisFormat: chart.axisFormat, marks: recorded.marks,
      empty: any ? `0 for every ${chart.kind}` : "no data yet" });
  }
  const list = document.getElementById("marks");
  const marks = recorded.marks.slice(-MAX_EVENTS).reverse();
  if (!marks.length) return;
  list.replaceChildren(...marks.map((mark) => el("li", { class: "mark-" + mark.kind, "data-mark": mark.kind,
    "data-subject": mark.subject }, new Date(mark.t).toLocaleTimeString() + " " +
    mark.kind.replace("_", " ") + " " + mark.subject + (mark.text ? ": " + mark.text : ""))));
}

async function pollHistory() {
  try {
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const response = await fetch(`${HISTORY_URL}?since=${recorded.seq}&marks_since=${recorded.markSeq}`,
      { headers, cache: "no-store" });
    if (response.ok) {
      record(await response.json());
      renderCharts();
    }
  } catch (ignored) {
    // data.json's poll says what is wrong with the gateway
  } finally {
    setTimeout(pollHistory, POLL_MS);
  }
}

// The recorded values of a series over the last seconds, oldest first.
function recent(name, seconds) {
  const values = recorded.series[name] || [];
  return values.slice(-seconds).filter((v) => v !== null);
}

// healthy / degraded / down, and why, from the newest data and the recorded minutes.
function assess(data) {
  const reasons = { down: [], degraded: [] };
  const brokers = data.brokers || [];
  const up = brokers.filter((b) => b.state === "up");
  if (!up.length) reasons.down.push("no broker reachable");
  else for (const broker of brokers) if (broker.state !== "up") reasons.degraded.push(`broker ${broker.endpoint} lost`);
  const services = new Map(((data.broker && data.broker.services) || []).map((s) => [s.name, s]));
  // The jobs route counts only where a jobs service runs
  const routes = (data.routes || []).filter((r) => r.route !== "none" && r.service &&
    (!r.service.startsWith("slowlane.") || data.jobs));
  const unserved = routes.filter((r) => !(services.get(r.service) && services.get(r.service).workers > 0));
  if (up.length && routes.length && unserved.length === routes.length) reasons.down.push("no worker for any route");
  else for (const route of unserved) reasons.degraded.push(`no worker for ${route.route}`);
  for (const service of services.values()) {
    const queued = recent(`service:${service.name}:queued`, 30);
    if (queued.length >= 10 && service.queued > 0 && service.queued > queued[0] &&
        (service.oldest_wait_ms || 0) >= 1000)
      reasons.degraded.push(`queue of ${service.name} growing (${service.queued} waiting, oldest ` +
        `${formatSeconds(service.oldest_wait_ms / 1000)})`);
  }
  for (const route of routes) {
    const errors = recent(`route:${route.route}:err5xx`, 10).reduce((a, b) => a + b, 0);
    if (errors > 0) reasons.degraded.push(`5xx on ${route.route}`);
  }
  if (reasons.down.length) return { state: "down", reasons: reasons.down.concat(reasons.degraded) };
  if (reasons.degraded.length) return { state: "degraded", reasons: reasons.degraded };
  return { state: "healthy", reasons: [`${routes.length} route${routes.length === 1 ? "" : "s"} served`] };
}

function renderHealth(data) {
  const health = assess(data);
  document.getElementById("health").dataset.health = health.state;
  document.getElementById("health-state").textContent = health.state;
  document.getElementById("health-reason").textContent = health.reasons.join("; ");
}

function offerActions(data) {
  const services = ((data.broker && data.broker.services) || []).map((s) => s.name).sort();
  const hosts = [...new Set(((data.broker && data.broker.workers) || []).map((w) => w.host))]
    .filter((h) => h && h !== "unknown").sort();
  SlowlaneActions.update(services, hosts);
}

function render() {
  const newest = history[history.length - 1];
  const old = baseline();
  const seconds = (newest.t - old.t) / 1000;
  const data = newest.data;
  const state = document.getElementById("broker-state");
  state.textContent = "broker " + data.broker_state;
  state.className = "pill " + data.broker_state;
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  document.getElementById("window").textContent = Math.max(1, Math.round(seconds));
  renderServices(data, old === newest ? null : old.data, seconds);
  renderRoutes(data, old === newest ? null : old.data, seconds);
  renderJobs(data);
  renderWorkers(data);
  trackWorkers(data);
  renderHealth(data);
  offerActions(data);
}

async function poll() {
  const error = document.getElementById("error");
  try {
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const response = await fetch(DATA_URL, { headers, cache: "no-store" });
    if (response.status === 401) {
      document.getElementById("token-form").hidden = false;
      error.hidden = false;
      error.textContent = token ? "The token was refused." : "This gateway needs the admin token.";
      return;
    }
    if (!response.ok) throw new Error("data.json answered " + response.status);
    const data = await response.json();
    const now = Date.now();
    history.push({ t: now, data });
    while (history.length > 2 && now - history[1].t > WINDOW_MS) history.shift();
    error.hidden = true;
    render();
  } catch (failure) {
    error.hidden = false;
    error.textContent = "Cannot reach the gateway: " + failure.message;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  token = document.getElementById("token").value;
  sessionStorage.setItem("slowlane-token", token);
  document.getElementById("token-form").hidden = true;
});

document.getElementById("token-button").addEventListener("click", () => {
  const form = document.getElementById("token-form");
  form.hidden = !form.hidden;
  if (!form.hidden) document.getElementById("token").focus();
});

SlowlaneActions.init(() => token);
poll();
pollHistory();
