// dashboard_test: drives the dashboard served by tests/integration/http_fixture
// in headless chromium (playwright-core, the system's /usr/bin/chromium).
//
// Env: BASE (http://127.0.0.1:PORT), REDIS_SOCK, OUT_DIR (screenshots),
// optional TOKEN_BASE + TOKEN (a second fixture that requires a token).
// Prints one "ok NAME" or "FAIL NAME: why" line per check; t_dashboard.sh
// counts them.
"use strict";
const { chromium } = require("playwright-core");
const { execFileSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const BASE = process.env.BASE;
const SOCK = process.env.REDIS_SOCK;
const OUT = process.env.OUT_DIR || ".";
let failed = 0;

function ok(name) { console.log("ok   " + name); }
function fail(name, why) { failed++; console.log("FAIL " + name + ": " + why); }
async function check(name, fn) {
  try { await fn(); ok(name); } catch (e) { fail(name, String(e && e.message || e).split("\n")[0]); }
}
function assert(c, msg) { if (!c) throw new Error(msg); }
function xadd(obj) {
  return execFileSync("redis-cli", ["-s", SOCK, "XADD", "egress:alerts", "*", "alert", JSON.stringify(obj)]).toString().trim();
}

async function launch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ew-chromium-"));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1600, height: 1000 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return { ctx, dir };
}

async function main() {
  const { ctx, dir } = await launch();
  const page = ctx.pages()[0] || await ctx.newPage();
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  page.on("console", m => { if (m.type() === "error") errors.push(m.text()); });
  const external = [];
  page.on("request", r => { if (!r.url().startsWith(BASE)) external.push(r.url()); });

  await page.goto(BASE + "/", { waitUntil: "load" });

  await check("identities table shows the provider's 10 identities, largest first", async () => {
    await page.waitForSelector("#identities tr[data-identity]", { timeout: 5000 });
    const names = await page.$$eval("#identities tr[data-identity]", trs => trs.map(t => t.dataset.identity));
    assert(names.length === 10, "rows: " + names.length);
    assert(names[0] === "analytics-etl" && names[1] === "web-prod", "order: " + names.slice(0, 3));
    const ratio = await page.textContent('#identities tr[data-identity="analytics-etl"] .ratio');
    assert(ratio === "19×", "ratio of analytics-etl: " + ratio);
    const bars = await page.$$('#identities tr[data-identity="analytics-etl"] svg rect');
    assert(bars.length >= 3, "volume-vs-baseline bar missing");
  });

  await check("stream connects (live pill)", async () => {
    await page.waitForFunction(() => document.querySelector("#stream").textContent === "live", null, { timeout: 5000 });
  });

  await check("sensor with drops and stale sensor are highlighted", async () => {
    await page.waitForSelector('#sensors tr[data-sensor="gw-us-1"]', { timeout: 5000 });
    const cls = await page.getAttribute('#sensors tr[data-sensor="gw-us-1"]', "class");
    assert(cls.includes("dropping"), "gw-us-1 class: " + cls);
    const bad = await page.textContent('#sensors tr[data-sensor="gw-us-1"] td.bad');
    assert(bad.replace(/,/g, "") === "15230", "drops cell: " + bad);
    const stale = await page.getAttribute('#sensors tr[data-sensor="gw-ap-1"]', "class");
    assert(stale.includes("stale"), "gw-ap-1 class: " + stale);
    const okc = await page.getAttribute('#sensors tr[data-sensor="gw-eu-1"]', "class");
    assert(okc.trim() === "", "gw-eu-1 class: " + okc);
    // The last column: reports waiting in the sensor's spool (its heartbeat).
    const spooled = await page.$$eval('#sensors tr td:last-child', tds => tds.map(t => t.textContent + (t.classList.contains("bad") ? "!" : "")));
    assert(spooled.join(" ") === "0 – 3!", "spooled cells: " + spooled.join(" "));
  });

  const liveId = "live-" + process.pid + "-" + Date.now();
  await check("an alert XADDed while the page is open appears without reload", async () => {
    const t0 = Date.now();
    xadd({ id: liveId, time: 1742467190, severity: "critical", rule: "burst-1h", identity: "web-prod",
           window_s: 3600, observed_bytes: 48000000000, baseline_bytes: 8800000000,
           threshold_bytes: 35200000000, top_destinations: [{ addr: "203.0.113.9", bytes: 45000000000 }],
           sensors: ["gw-eu-1"], message: "live test" });
    await page.waitForSelector('.alert[data-id="' + liveId + '"]', { timeout: 5000 });
    const txt = await page.textContent('.alert[data-id="' + liveId + '"]');
    assert(txt.includes("web-prod") && txt.includes("48.0 GB") && txt.includes("5.5×"), "alert text: " + txt);
    const first = await page.getAttribute("#feed .alert", "data-id");
    assert(first === liveId, "newest alert is not first: " + first);
    console.log("# live alert visible after " + (Date.now() - t0) + " ms");
  });

  await check("alerts from the REST history are listed once each", async () => {
    const ids = await page.$$eval("#feed .alert", d => d.map(x => x.dataset.id));
    for (const id of ["a1", "a2", "a3", "a4", "a5", "a6"])
      assert(ids.filter(x => x === id).length === 1, "alert " + id + " x" + ids.filter(x => x === id).length);
  });

  await check("identity view opens with its series, destinations and alerts", async () => {
    await page.click('#identities tr[data-identity="analytics-etl"]');
    await page.waitForSelector("#detail.open #dests", { timeout: 5000 });
    const h = await page.textContent("#detail h3");
    assert(h === "analytics-etl", "title: " + h);
    assert(page.url().endsWith("#/identity/analytics-etl"), "url: " + page.url());
    const dests = await page.$$eval("#dests tbody tr", trs => trs.map(t => t.cells[0].textContent));
    assert(dests.length === 5 && dests[0] === "198.51.100.7", "dests: " + dests);
    const painted = await page.evaluate(() => {
      const c = document.querySelector("#chart"), g = c.getContext("2d");
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
      return { n, w: c.width, h: c.height };
    });
    assert(painted.w > 300 && painted.n > 2000, "chart not drawn: " + JSON.stringify(painted));
    const al = await page.textContent("#detail .two");
    assert(al.includes("burst-1h"), "identity alerts missing");
  });

  await check("a second live alert for the open identity also arrives", async () => {
    const id2 = liveId + "-b";
    xadd({ id: id2, time: 1742467195, severity: "high", rule: "burst-1h", identity: "analytics-etl",
           window_s: 3600, observed_bytes: 22000000000, baseline_bytes: 1100000000,
           top_destinations: [{ addr: "198.51.100.7", bytes: 20000000000 }] });
    await page.waitForSelector('.alert[data-id="' + id2 + '"]', { timeout: 5000 });
    await page.waitForTimeout(600);
  });

  fs.mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: path.join(OUT, "dashboard.png"), fullPage: true });
  await page.click("#detail .close");
  await page.waitForTimeout(200);
  await page.screenshot({ path: path.join(OUT, "dashboard-overview.png"), fullPage: false });

  await check("page loads nothing from elsewhere and logs no errors", async () => {
    assert(external.length === 0, "external requests: " + external.join(" "));
    assert(errors.length === 0, "errors: " + errors.join(" | "));
  });
  await page.close();

  if (process.env.TOKEN_BASE) {
    const p2 = await ctx.newPage();
    await check("with a token configured the page asks for it, then loads and streams", async () => {
      await p2.goto(process.env.TOKEN_BASE + "/", { waitUntil: "load" });
      await p2.waitForSelector("#tokenbox.open", { timeout: 5000 });
      await p2.fill("#tokeninput", process.env.TOKEN);
      await p2.click("#tokenbox button");
      await p2.waitForSelector("#identities tr[data-identity]", { timeout: 5000 });
      await p2.waitForFunction(() => document.querySelector("#stream").textContent === "live", null, { timeout: 5000 });
      const id3 = liveId + "-tok";
      xadd({ id: id3, time: 1742467199, severity: "low", rule: "new-destination", identity: "mail-relay" });
      await p2.waitForSelector('.alert[data-id="' + id3 + '"]', { timeout: 5000 });
    });
    await p2.close();
  }
  await ctx.close();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exitCode = failed ? 1 : 0;
}

main().catch(e => { console.log("FAIL dashboard test crashed: " + e.message); process.exitCode = 1; });
