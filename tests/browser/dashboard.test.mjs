// The dashboard in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core. Run by tests/system/test_dashboard_browser.py against a real cluster,
// which passes (environment):
//   DASHBOARD_URL   http://127.0.0.1:PORT/dashboard
//   EXPECT_WORKERS  number of workers the page must list
//   KILL_PID        a worker process to SIGKILL once the page shows it
//   KILL_IDENTITY   that worker's identity (host/supervisor-pid/slot)
//   ADMIN_TOKEN     the gateway's admin token (the page must ask for it), optional
//   TRAFFIC_PATH    routes to send requests to while the page watches (comma-separated), optional
//   AUTOSCALE       SERVICE=TEXT: the service's autoscale cell must start with TEXT, optional
//   SCALE           SERVICE=N: scale SERVICE to N workers from the page (after the kill), optional
//   SCREENSHOT      where to save the final screenshot (PNG)
//   SCREENSHOTS     a directory for dashboard-idle.png, dashboard-load.png and
//                   dashboard-phone.png (docs/observability.md shows them), optional
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
  viewport: { width: 1280, height: 800 }, // the "at a glance" screen of issue 24
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
    // Without the token (or with a wrong one, on purpose) the data, history and API answer 401
    if (answer.status() === 401 && !tokenGiven &&
        (path.startsWith("/dashboard/") || path.startsWith("/api/"))) return;
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

  // 2. With a token configured, the page asks for it, refuses a wrong one, then shows the data.
  if (token) {
    await page.waitForSelector("#token-form:not([hidden])");
    log("token form shown (data.json answered 401)");
    await page.fill("#token", "not-the-token-0123456789");
    await page.click("#token-form button");
    await page.waitForFunction(() => document.getElementById("error").textContent === "The token was refused.");
    log("a wrong token is refused");
    await page.fill("#token", token);
    await page.click("#token-form button");
  }

  // 3. At a glance: the health line, in the first screen (1280 x 800)
  await page.waitForSelector('#health[data-health="healthy"]');
  const health = await page.$eval("#health", (box) => {
    const rect = box.getBoundingClientRect();
    return { bottom: rect.bottom, text: box.textContent.trim().replace(/\s+/g, " ") };
  });
  if (health.bottom > 800) throw new Error(`health line below the first screen: ${health.bottom}`);
  log(`health shown: ${health.text}`);
  // WCAG AA: the health line and the muted text keep 4.5:1 against what is behind them
  const ratios = await page.evaluate(() => {
    const rgb = (text) => text.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
    const luminance = ([r, g, b]) => {
      const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const ratio = (a, b) => { const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
    const background = (node) => {
      for (; node; node = node.parentElement) {
        const color = getComputedStyle(node).backgroundColor;
        if (!color.startsWith("rgba(0, 0, 0, 0)")) return rgb(color);
      }
      return [255, 255, 255];
    };
    return ["#health", "#health-reason", "section h2 .muted", "th", "#broker-state"].map((selector) => {
      const node = document.querySelector(selector);
      return [selector, ratio(rgb(getComputedStyle(node).color), background(node))];
    });
  });
  for (const [selector, ratio] of ratios)
    if (ratio < 4.5) throw new Error(`contrast of ${selector} is ${ratio.toFixed(2)}:1, under WCAG AA's 4.5:1`);
  log(`contrast: ${ratios.map(([s, r]) => `${s} ${r.toFixed(1)}:1`).join(", ")}`);
  // The charts draw from the gateway's history even before any traffic
  await page.waitForFunction(() =>
    Number(document.querySelector('figure[data-chart="workers"] path.series')?.dataset.points) >= 2);
  if (process.env.SCREENSHOTS)
    await page.screenshot({ path: join(process.env.SCREENSHOTS, "dashboard-idle.png") });

  const targets = (process.env.TRAFFIC_PATH || "").split(",").filter(Boolean).map((path) => new URL(path, url).href);
  if (targets.length)
    traffic = setInterval(() => {
      for (const target of targets) fetch(target).then((r) => r.arrayBuffer()).catch(() => {});
    }, 50);

  // 4. The running workers are listed, each with a state.
  await page.waitForFunction((count) =>
    document.querySelectorAll("tr[data-worker][data-state]").length === count, expectWorkers);
  tokenGiven = true; // from here on, a poll that was in flight without it has answered
  const workers = await page.$$eval("tr[data-worker]", (rows) =>
    rows.map((row) => ({ identity: row.dataset.worker, state: row.dataset.state, registered: row.dataset.registered })));
  log(`workers shown: ${workers.map((w) => `${w.identity}=${w.state}`).join(", ")}`);
  const victim = workers.find((w) => w.identity === killIdentity);
  if (!victim) throw new Error(`worker ${killIdentity} not shown`);

  // 5. Under load the request rate is drawn, and the charts move (new points each second).
  if (targets.length) {
    const route = new URL(targets[0]).pathname;
    await page.waitForFunction((label) => {
      const path = document.querySelector(`figure[data-chart="rps"] path.series[data-label="${label}"]`);
      return path && Number(path.dataset.last) > 0;
    }, route);
    const before = await page.$eval(`figure[data-chart="rps"] path.series[data-label="${route}"]`, (p) => Number(p.dataset.points));
    await page.waitForFunction(([label, count]) =>
      Number(document.querySelector(`figure[data-chart="rps"] path.series[data-label="${label}"]`).dataset.points) >= count + 2,
    [route, before]);
    log(`the request rate of ${route} is charted and moves (${before} points, then more)`);
    // Hovering a chart shows the values under the cursor
    const box = await page.$eval('figure[data-chart="rps"] svg', (svg) => {
      const r = svg.getBoundingClientRect();
      return { x: r.right - 12, y: r.top + r.height / 2 };
    });
    await page.mouse.move(box.x, box.y);
    await page.waitForFunction((label) => {
      const tip = document.querySelector('figure[data-chart="rps"] .tip');
      return tip && !tip.hidden && tip.textContent.includes(label + ":");
    }, route);
    await page.mouse.move(0, 0);
    log("hovering shows the values");
    // The keyboard does the same: a chart takes focus, the arrow keys move the cursor
    await page.focus('figure[data-chart="rps"]');
    await page.keyboard.press("End");
    await page.keyboard.press("ArrowLeft");
    await page.waitForFunction(() => {
      const tip = document.querySelector('figure[data-chart="rps"] .tip');
      const path = document.querySelector('figure[data-chart="rps"] path.series');
      return tip && !tip.hidden && Number(tip.dataset.index) >= 0 && path;
    });
    await page.keyboard.press("Escape");
    log("the keyboard moves a chart's cursor");
    if (process.env.SCREENSHOTS)
      await page.screenshot({ path: join(process.env.SCREENSHOTS, "dashboard-load.png") });
  }

  // 6. A killed worker goes away and its replacement (same identity, new registration)
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
  await page.waitForSelector('figure[data-chart="restarts"] line.mark[data-kind="worker_died"]', { state: "attached" });
  await page.waitForSelector('#marks li[data-mark="worker_died"]');
  log("the death is a mark on the charts and in the events");

  // 7. Scaling from the page: confirm, follow, and the count changes
  if (process.env.SCALE) {
    const [service, count] = process.env.SCALE.split("=");
    await page.selectOption("#action-service", service);
    await page.fill("#action-count", count);
    await page.click('#actions button[data-action="scale"]');
    await page.waitForSelector("#confirm[open]");
    const question = await page.textContent("#confirm-text");
    log(`asked: ${question}`);
    await page.click("#confirm-ok");
    await page.waitForSelector('#action-log li[data-state="done"]', { timeout: 30000 });
    log(`action log: ${(await page.textContent("#action-log li")).trim()}`);
    await page.waitForFunction(([name, n]) =>
      document.querySelectorAll(`tr[data-worker][data-service="${name}"]`).length === n, [service, Number(count)]);
    await page.waitForSelector('#marks li[data-mark="scale"]');
    log(`scaled ${service} to ${count} from the page`);

    // A wrong token: the action is refused, and says why
    tokenGiven = false;
    await page.click("#token-button");
    await page.fill("#token", "wrong-token-0123456789abc");
    await page.click("#token-form button");
    await page.click('#actions button[data-action="restart"]');
    await page.waitForSelector("#confirm[open]");
    await page.click("#confirm-ok");
    await page.waitForSelector('#action-log li[data-state="refused"]');
    const refused = (await page.textContent('#action-log li[data-state="refused"]')).trim();
    if (!refused.includes("admin token is wrong (401)")) throw new Error(`refusal says: ${refused}`);
    log(`wrong token refused: ${refused}`);
    await page.fill("#token", token);
    await page.click("#token-form button");
    await page.waitForFunction(() => document.getElementById("error").hidden);
    tokenGiven = true;
  }

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
  // A phone's width: nothing wider than the screen but the tables' own scrolling boxes
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForFunction(() => window.innerWidth === 390);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  if (overflow > 390) throw new Error(`the page is ${overflow} px wide on a 390 px screen`);
  if (process.env.SCREENSHOTS)
    await page.screenshot({ path: join(process.env.SCREENSHOTS, "dashboard-phone.png") });
  log("fits a phone's width");
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
