// slowlane dashboard: the cluster manager's buttons. Each action is a POST to the admin API
// the CLI uses (docs/admin-api.md: /api/v1/services/{service}/{action}) with the admin
// token; it asks for confirmation first, then follows the command in /api/v1/cluster until
// the cluster shows it done (or 60 s pass), and says each step in the action log. The
// token and the services and hosts to offer come from dashboard.js.
"use strict";

const SlowlaneActions = (() => {
  const FOLLOW_MS = 60000;
  const FOLLOW_EVERY_MS = 500;
  let getToken = () => "";

  function logEntry(text, kind) {
    const log = document.getElementById("action-log");
    const item = document.createElement("li");
    const time = document.createElement("span");
    time.className = "muted";
    time.textContent = new Date().toLocaleTimeString() + " ";
    const body = document.createElement("span");
    item.append(time, body);
    log.prepend(item);
    while (log.children.length > 20) log.lastElementChild.remove();
    const entry = {
      item,
      update(message, state) {
        body.textContent = text + ": " + message;
        item.dataset.state = state;
        item.className = "log-" + state;
      },
    };
    entry.update("asking", kind || "pending");
    return entry;
  }

  function confirmAction(question) {
    const dialog = document.getElementById("confirm");
    document.getElementById("confirm-text").textContent = question;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      document.getElementById("confirm-ok").focus();
    });
  }

  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + getToken() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body) });
    let answer = {};
    try { answer = await response.json(); } catch (ignored) { answer = {}; }
    return { status: response.status, answer };
  }

  // Why a command was not taken, in words an operator can act on.
  function refusal(status, answer) {
    if (status === 401) return getToken() ? "refused: the admin token is wrong (401)" : "refused: enter the admin token first (401)";
    if (status === 403) return "refused: this gateway's admin API is off (start it with --admin-token)";
    if (status === 404) return "refused: no supervisor of that service" + (answer.message ? ` (${answer.message})` : "");
    if (status === 409) return "refused: a rolling restart of the service is already running";
    if (status === 503) return "not sent: no broker answered (503)";
    return `failed (${status}${answer.error ? " " + answer.error : ""}${answer.message ? ": " + answer.message : ""})`;
  }

  // What the cluster view says of the command's progress: {done, text}.
  function progress(action, request, cluster, began) {
    const service = (cluster.services || []).find((s) => s.name === request.service) || {};
    const workers = (cluster.workers || []).filter((w) => w.service === request.service &&
      (!request.host || w.host === request.host));
    const running = workers.filter((w) => w.registered).length;
    if (action === "scale") {
      const want = request.count;
      const have = request.host ? running : service.registered || 0;
      return { done: have === want, text: `${have} of ${want} workers registered` };
    }
    if (action === "restart") {
      // Done once the roll has run: rolling seen, then not, or every worker newer than the start
      const fresh = workers.filter((w) => w.registered && w.uptime_ms < Date.now() - began).length;
      return { done: !service.rolling && fresh === workers.length && workers.length > 0,
        text: service.rolling ? `restarting: ${fresh} of ${workers.length} workers new` : `${fresh} of ${workers.length} workers new` };
    }
    if (action === "stop") {
      const stopped = workers.filter((w) => w.state === "stopped").length;
      return { done: stopped === workers.length, text: `${stopped} of ${workers.length} workers stopped` };
    }
    if (action === "start") {
      return { done: workers.length > 0 && running === workers.length, text: `${running} of ${workers.length} workers running` };
    }
    return { done: true, text: "" };
  }

  async function follow(entry, action, request, began) {
    const until = Date.now() + FOLLOW_MS;
    let last = "";
    while (Date.now() < until) {
      const { status, answer } = await api("GET", "/api/v1/cluster");
      if (status !== 200) { entry.update(`accepted; cannot follow it (${status})`, "done"); return; }
      const step = progress(action, request, answer, began);
      last = step.text;
      if (step.done) {
        entry.update(`done in ${((Date.now() - began) / 1000).toFixed(1)} s: ${step.text}`, "done");
        return;
      }
      entry.update(`accepted, in progress: ${step.text}`, "progress");
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_EVERY_MS));
    }
    entry.update(`accepted, not done after ${FOLLOW_MS / 1000} s: ${last}`, "stalled");
  }

  function describe(action, request) {
    const where = request.host ? ` on ${request.host}` : " on all hosts";
    switch (action) {
      case "scale": return `Scale ${request.service} to ${request.count} worker${request.count === 1 ? "" : "s"}${where}?`;
      case "restart": return `Restart every worker of ${request.service}, one at a time, across all hosts?`;
      case "stop": return `Stop every worker of ${request.service}${where}? Its requests wait, then fail, until Start.`;
      case "start": return `Start the workers of ${request.service}${where}?`;
      case "broadcast": return `Send "${request.message}" to every worker of ${request.service}?`;
      default: return `${action} ${request.service}?`;
    }
  }

  async function run(action) {
    const service = document.getElementById("action-service").value;
    const host = document.getElementById("action-host").value;
    if (!service) { logEntry(action, "refused").update("choose a service first", "refused"); return; }
    const request = { service };
    const body = {};
    if (host && action !== "restart" && action !== "broadcast") body.host = request.host = host;
    if (action === "scale") {
      const count = Number(document.getElementById("action-count").value);
      if (!Number.isInteger(count) || count < 0 || count > 1024) {
        logEntry(`scale ${service}`).update("the number of workers must be 0..1024", "refused");
        return;
      }
      body.count = request.count = count;
    }
    if (action === "broadcast") {
      const message = document.getElementById("action-message").value;
      if (!message) { logEntry(`broadcast ${service}`).update("write a message first", "refused"); return; }
      body.message = request.message = message;
    }
    if (!(await confirmAction(describe(action, request)))) return;
    const entry = logEntry(`${action} ${service}${request.host ? " on " + request.host : ""}` +
      (action === "scale" ? ` to ${request.count}` : ""));
    const began = Date.now();
    let reply;
    try {
      reply = await api("POST", `/api/v1/services/${encodeURIComponent(service)}/${action}`, body);
    } catch (failure) {
      entry.update("cannot reach the gateway: " + failure.message, "refused");
      return;
    }
    if (reply.status < 200 || reply.status > 299) { entry.update(refusal(reply.status, reply.answer), "refused"); return; }
    if (action === "broadcast") {
      entry.update(`delivered to ${reply.answer.workers} worker${reply.answer.workers === 1 ? "" : "s"} (id ${reply.answer.id})`, "done");
      return;
    }
    entry.update("accepted", "progress");
    await follow(entry, action, request, began);
  }

  function offer(select, values, keep) {
    const current = select.value;
    const wanted = [...(keep !== null ? [keep] : []), ...values];
    const have = [...select.options].map((o) => o.value);
    if (have.length === wanted.length && have.every((v, i) => v === wanted[i])) return;
    select.replaceChildren(...wanted.map((value) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = value || "all hosts";
      return option;
    }));
    if (wanted.includes(current)) select.value = current;
  }

  // services and hosts to offer, from the latest data.
  function update(services, hosts) {
    offer(document.getElementById("action-service"), services, null);
    offer(document.getElementById("action-host"), hosts, "");
  }

  function init(tokenSource) {
    getToken = tokenSource;
    for (const button of document.querySelectorAll("#actions button[data-action]"))
      button.addEventListener("click", () => run(button.dataset.action));
    document.getElementById("actions").addEventListener("submit", (event) => event.preventDefault());
  }

  return { init, update };
})();
