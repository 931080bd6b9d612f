// The dashboard in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core. Run by tests/system/test_dashboard_browser.py against a real cluster,
// which passes (environment):
//   DASHBOARD_URL   http://127.0.0.1:PORT/dashboard
//   EXPECT_WORKERS  number of workers the page must list
//   KILL_PID        a worker process to SIGKILL once the page shows it
//   KILL_IDENTITY   that worker's identity (host/supervisor-pid/slot)
//   ADMIN_TOKEN     the gateway's admin token (the page must ask for it), optional
//   TRAFFIC_PATH    a route to send requests to while the page watches, optional
//   AUTOSCALE       SERVICE=TEXT: the service's autoscale cell must start with TEXT, optional
//   SCREENSHOT      where to save the final screenshot (PNG)
//   CHROMIUM        the browser (default /usr/bin/chromium)
// Exits 0 when every check passes, 1 with a message otherwise.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = process.env.DASHBOARD_URL;
const expectWorkers = Number(process.env.EXPECT_WORKERS || "1");
const killPid = Number(process.env.KILL_PID || "0");
const killIdentity = process.env.KILL_IDENTITY || "";
const token = process.env.ADMIN_TOKEN || "";
const screenshot = process.env.SCREENSHOT || join(tmpdir(), "slowlane-dashboard.png");
const timeout = 20000;

function log(message) {
  console.log(`dashboard.test: ${message}`);
}

const profile = mkdtempSync(join(tmpdir(), "slowlane-chromium-"));
// A fresh profile per run (playwright takes --user-data-dir through this call).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 1000 },
  bypassCSP: true, // the page forbids eval; the probes below are evaluated by playwright
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let traffic = null;
let failed = false;
try {
  const page = await browser.newPage();
  const consoleErrors = [];
  // Failed loads are judged by the response listener below (a 401 before the token is
  // expected); any other console error is a page bug.
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource"))
      consoleErrors.push(message.text());
  });
  let tokenGiven = !token;
  page.on("response", (answer) => {
    const path = new URL(answer.url()).pathname;
    if (answer.status() < 400 || path === "/favicon.ico") return;
    if (answer.status() === 401 && path === "/dashboard/data.json" && !tokenGiven) return;
    consoleErrors.push(`${answer.status()} for ${path}`);
  });
  page.on("pageerror", (error) => consoleErrors.push(String(error)));
  page.setDefaultTimeout(timeout);

  // 1. The page loads from the gateway alone (no CDN: any other host would fail offline).
  const external = [];
  page.on("request", (request) => { if (!request.url().startsWith(new URL(url).origin)) external.push(request.url()); });
  const response = await page.goto(url);
  if (!response || response.status() !== 200) throw new Error(`GET ${url}: ${response && response.status()}`);
  if ((await page.title()) !== "slowlane dashboard") throw new Error(`title: ${await page.title()}`);
  log("page loaded");

  // 2. With a token configured, the page asks for it and then shows the data.
  if (token) {
    await page.waitForSelector("#token-form:not([hidden])");
    log("token form shown (data.json answered 401)");
    await page.fill("#token", token);
    await page.click("#token-form button");
  }

  if (process.env.TRAFFIC_PATH) {
    const target = new URL(process.env.TRAFFIC_PATH, url).href;
    traffic = setInterval(() => { fetch(target).then((r) => r.arrayBuffer()).catch(() => {}); }, 50);
  }

  // 3. The running workers are listed, each with a state.
  await page.waitForFunction((count) =>
    document.querySelectorAll("tr[data-worker][data-state]").length === count, expectWorkers);
  tokenGiven = true; // from here on, a poll that was in flight without it has answered
  const workers = await page.$$eval("tr[data-worker]", (rows) =>
    rows.map((row) => ({ identity: row.dataset.worker, state: row.dataset.state, registered: row.dataset.registered })));
  log(`workers shown: ${workers.map((w) => `${w.identity}=${w.state}`).join(", ")}`);
  const victim = workers.find((w) => w.identity === killIdentity);
  if (!victim) throw new Error(`worker ${killIdentity} not shown`);

  // 4. A killed worker goes away and its replacement (same identity, new registration)
  //    arrives; the page says both, and the service's restart count moves.
  process.kill(killPid, "SIGKILL");
  log(`killed pid ${killPid} (${killIdentity})`);
  await page.waitForSelector(`li[data-event="gone"][data-worker="${killIdentity}"][data-registered="${victim.registered}"]`);
  log("departure shown");
  await page.waitForFunction(([identity, registered]) => {
    const row = document.querySelector(`tr[data-worker="${identity}"]`);
    const arrived = document.querySelector(`li[data-event="arrived"][data-worker="${identity}"]`);
    return row && arrived && row.dataset.registered !== registered &&
      arrived.dataset.registered === row.dataset.registered;
  }, [killIdentity, victim.registered]);
  log("replacement shown");
  await page.waitForFunction((count) =>
    document.querySelectorAll("tr[data-worker]").length === count, expectWorkers);
  await page.waitForFunction(() =>
    [...document.querySelectorAll('#services td[data-field="restarts"]')].some((td) => Number(td.textContent) >= 1));
  log("restart counted");

  if (process.env.TRAFFIC_PATH) {
    await page.waitForFunction(() =>
      [...document.querySelectorAll("#routes tr[data-route] td:nth-child(3)")].some((td) => Number(td.textContent) > 0));
    log("route request rate shown");
  }
  if (process.env.AUTOSCALE) {
    const [service, text] = process.env.AUTOSCALE.split("=");
    await page.waitForFunction(([name, start]) => {
      const cell = document.querySelector(`#services tr[data-service="${name}"] td[data-field="autoscale"]`);
      return cell && cell.textContent.startsWith(start);
    }, [service, text]);
    log(`autoscale policy shown for ${service}`);
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  log(`screenshot saved to ${screenshot}`);
  if (external.length) throw new Error(`requests outside the gateway: ${external.join(", ")}`);
  if (consoleErrors.length) throw new Error(`console errors: ${consoleErrors.join(" | ")}`);
  log("ok");
} catch (error) {
  failed = true;
  console.error(`dashboard.test: FAILED: ${error.message}`);
} finally {
  if (traffic) clearInterval(traffic);
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
