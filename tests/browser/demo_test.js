// demo_test: the dashboard of a real egress-collector during the demo
// (tests/demo.sh --no-wait), in headless chromium. The page must show the
// demo's identities with analytics-etl on top and its alerts; then a report
// in which analytics-etl sends 30 GB more is XADDed to the reports stream:
// the collector applies it and the alert it raises must appear in the feed
// without a reload; the identity view opens with its series and top
// destination; screenshots go to OUT_DIR.
//
// Env: BASE, REDIS_SOCK, OUT_DIR, CHROMIUM. One "ok"/"FAIL" line per check.
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
function rcli(...args) { return execFileSync("redis-cli", ["-s", SOCK, ...args]).toString().trim(); }

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ew-chromium-"));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
    viewport: { width: 1600, height: 1000 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  await page.goto(BASE + "/", { waitUntil: "load" });

  await check("demo: the 10 identities are listed, ranked by the last hour", async () => {
    await page.waitForSelector("#identities tr[data-identity]", { timeout: 5000 });
    const names = await page.$$eval("#identities tr[data-identity]", t => t.map(x => x.dataset.identity));
    assert(names.length === 10 && names.includes("analytics-etl"), "rows: " + names);
    const api = JSON.parse(execFileSync("curl", ["-s", BASE + "/api/v1/identities?window=1h"]).toString());
    assert(names[0] === api.identities[0].identity, "first: " + names[0] + ", API: " + api.identities[0].identity);
  });
  await check("demo: the alert feed is live and lists the demo's alerts", async () => {
    await page.waitForFunction(() => document.querySelector("#stream").textContent === "live", null, { timeout: 5000 });
    const n = Number(rcli("XLEN", "egress:alerts"));
    await page.waitForFunction(k => document.querySelectorAll("#feed .alert").length >= k, n, { timeout: 5000 });
  });

  await check("demo: an alert raised by the collector appears without reload", async () => {
    const last = JSON.parse(rcli("--raw", "XREVRANGE", "egress:reports", "+", "-", "COUNT", "1").split("\n")[2]);
    const end = last.end + 60;
    const rep = { v: 1, sensor: last.sensor, seq: last.seq + 1, start: end - 60, end,
      identities: [{ identity: "analytics-etl", out_bytes: 30e9, out_packets: 2e7, in_bytes: 0, in_packets: 0,
        destinations: [{ addr: "192.0.2.250", port: 443, proto: "tcp", bytes: 30e9, packets: 2e7 }] }],
      stats: { packets_seen: 2e7, packets_undecoded: 0, drops_kernel: 0 } };
    const before = Number(rcli("XLEN", "egress:alerts"));
    const t0 = Date.now();
    rcli("XADD", "egress:reports", "*", "report", JSON.stringify(rep));
    let id = null;
    for (let i = 0; i < 100 && !id; i++) {
      if (Number(rcli("XLEN", "egress:alerts")) > before)
        // fields: id ID alert JSON
        id = rcli("--raw", "XREVRANGE", "egress:alerts", "+", "-", "COUNT", "1").split("\n")[2];
      else await new Promise(r => setTimeout(r, 50));
    }
    assert(id, "the collector raised no alert");
    await page.waitForSelector('.alert[data-id="' + id + '"]', { timeout: 5000 });
    const txt = await page.textContent('.alert[data-id="' + id + '"]');
    assert(txt.includes("analytics-etl"), "alert text: " + txt);
    console.log("# collector alert visible " + (Date.now() - t0) + " ms after the report");
  });

  await check("demo: the identity view shows the series and the new destination", async () => {
    await page.click('#identities tr[data-identity="analytics-etl"]');
    await page.waitForSelector("#detail.open #dests", { timeout: 5000 });
    const h = await page.textContent("#detail h3");
    assert(h.includes("analytics-etl"), "heading: " + h);
    await page.waitForFunction(() => document.querySelectorAll("#dests tbody tr").length > 0, null, { timeout: 5000 });
    const dests = await page.$$eval("#dests tbody tr", t => t.map(x => x.cells[0].textContent));
    assert(dests[0].includes("192.0.2.250"), "top destination: " + dests[0]);
  });
  await page.screenshot({ path: path.join(OUT, "demo-dashboard.png"), fullPage: true });
  await check("demo: no script errors on the page", async () => {
    assert(errors.length === 0, errors.join("; "));
  });
  await ctx.close();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(failed ? 1 : 0);
}
main().catch(e => { console.log("FAIL demo_test: " + e); process.exit(1); });
