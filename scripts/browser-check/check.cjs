// Checks pipeaudit's HTML report and the Mermaid diagrams of its Markdown
// summary in Debian's headless Chromium, driven over the DevTools protocol
// by playwright-core (which downloads no browser). Run by
// scripts/browser-check.sh, which passes the files:
//
//   node check.cjs REPORT.html REPORT.json SNAPSHOT.json SUMMARY.md OUTDIR [BIG.html]
//
// Fails (exit 1) on any console error or failed check; writes screenshots
// to OUTDIR; with BIG.html (1,000 pipelines) measures its size and render time.
// With HOSTILE_HTML and HOSTILE_MD set (the report and summary of the
// crafted snapshot of tests/fixtures/hostile/names.json), checks that no
// crafted name runs, loads, injects an element or reconfigures a diagram.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const [html, jsonReport, snapshotFile, summary, outDir, bigHtml] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const MAX_BYTES = 5 * 1024 * 1024;
const MAX_RENDER_MS = 2000;

let failures = 0;
function check(ok, what) {
  if (ok) {
    console.log(`ok   ${what}`);
  } else {
    failures += 1;
    console.log(`FAIL ${what}`);
  }
}

// A page that records console errors, page errors and any request that
// leaves the file (the report must load nothing from the network).
async function watchedPage(browser, name, viewport) {
  const page = await browser.newPage({ viewport: viewport || { width: 1366, height: 900 } });
  page.errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.errors.push(`${name}: console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => page.errors.push(`${name}: page error: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('file:') && !u.startsWith('data:') && !u.startsWith('about:')) {
      page.errors.push(`${name}: request to ${u}`);
    }
  });
  return page;
}

async function checkReport(browser) {
  const report = JSON.parse(fs.readFileSync(jsonReport, 'utf8'));
  const snapshot = JSON.parse(fs.readFileSync(snapshotFile, 'utf8'));
  const findings = report.findings;
  const names = snapshot.pipelines.map((p) => p.name);
  const page = await watchedPage(browser, 'report');
  await page.goto('file://' + path.resolve(html), { waitUntil: 'load' });

  // the findings table: every finding a row; the filters shown by the script
  const rows = await page.$$eval('#findings-table tbody tr', (trs) => trs.length);
  check(rows === findings.length, `findings table has ${rows} rows for ${findings.length} findings`);
  check(await page.$eval('#filters', (f) => !f.hidden), 'filter controls are shown');
  await page.screenshot({ path: path.join(outDir, 'html-report.png') });

  // every pipeline has its section and a drawn diagram with nodes
  await page.$$eval('details.pl', (ds) => ds.forEach((d) => { d.open = true; }));
  const drawn = await page.$$eval('details.pl', (ds) => ds.map((d) => {
    const svg = d.querySelector('svg.wiring');
    const r = svg && svg.getBoundingClientRect();
    return {
      name: d.querySelector('summary').textContent,
      nodes: svg ? svg.querySelectorAll('g.n').length : 0,
      width: r ? r.width : 0,
      title: svg ? (svg.querySelector('title') || {}).textContent : '',
    };
  }));
  check(drawn.length === names.length, `${drawn.length} pipeline sections for ${names.length} pipelines`);
  for (const name of names) {
    const d = drawn.find((x) => x.title === `Wiring of pipeline ${name}`);
    check(d && d.nodes >= 1 && d.width > 100, `pipeline ${name}: diagram drawn (${d ? d.nodes : 0} nodes)`);
  }

  // every finding is on the node of its resource, with its rule and severity
  const placed = await page.$$eval('#findings-table tbody tr', (trs) => trs.map((tr) => {
    const a = tr.cells[3].querySelector('a');
    const id = a ? a.getAttribute('href').slice(1) : null;
    const link = id && document.querySelector(`svg.wiring a[href="#${id}"]`);
    const g = link && link.querySelector('g.n');
    return {
      rule: tr.dataset.rule,
      sev: tr.dataset.sev,
      resource: tr.cells[3].textContent,
      target: id && !!document.getElementById(id),
      title: g ? g.querySelector('title').textContent : null,
      text: g ? g.textContent : '',
      cls: g ? g.getAttribute('class') : '',
    };
  }));
  let onNodes = 0;
  for (const f of placed) {
    if (f.title && f.target && f.title.includes(f.resource) && f.text.includes(f.rule)
        && f.text.includes(`${f.sev}:`)) onNodes += 1;
    else console.log(`     not on its node: ${f.rule} ${f.resource}`);
  }
  check(onNodes === findings.length, `${onNodes} of ${findings.length} findings marked on the node of their resource`);

  // filtering: by severity, by rule, by text; then all again
  const visible = () => page.$$eval('#findings-table tbody tr', (trs) => trs.filter((t) => !t.hidden).map((t) => ({ sev: t.dataset.sev, rule: t.dataset.rule, text: t.textContent })));
  await page.selectOption('#filters select[name=sev]', 'critical');
  let v = await visible();
  const critical = findings.filter((f) => f.severity === 'critical').length;
  check(v.length === critical && v.every((r) => r.sev === 'critical'), `severity filter: ${v.length} critical rows of ${critical}`);
  await page.selectOption('#filters select[name=sev]', '');
  const rule = findings[0].rule_id;
  await page.selectOption('#filters select[name=rule]', rule);
  v = await visible();
  check(v.length === findings.filter((f) => f.rule_id === rule).length && v.every((r) => r.rule === rule), `rule filter ${rule}: ${v.length} row(s)`);
  await page.selectOption('#filters select[name=rule]', '');
  const pipeline = findings[findings.length - 1].pipeline;
  await page.fill('#filters input[name=q]', pipeline);
  v = await visible();
  check(v.length >= 1 && v.every((r) => r.text.includes(pipeline)), `text search "${pipeline}": ${v.length} row(s)`);
  check((await page.textContent('#shown')).startsWith(`${v.length} of ${findings.length}`), 'the count of shown findings is said');
  await page.fill('#filters input[name=q]', '');
  v = await visible();
  check(v.length === findings.length, 'clearing the filters shows every finding');

  // sorting by severity puts the critical findings first
  await page.click('#findings-table thead th:first-child button');
  const first = await page.$eval('#findings-table tbody tr', (tr) => tr.dataset.sev);
  check(first === 'critical', 'sorting by severity puts critical first');

  // a node with findings links to its findings and the rule's remediation
  const href = await page.$eval('svg.wiring a', (a) => a.getAttribute('href'));
  await page.click(`svg.wiring a[href="${href}"]`);
  const target = await page.$eval(href, (el) => ({ fix: !!el.querySelector('.fix'), shown: el.getBoundingClientRect().height > 0 }));
  check(target.fix && target.shown, `clicking node ${href} shows its findings with the remediation`);

  // a screenshot of one pipeline with a finding
  const id = await page.$$eval('details.pl', (ds) => {
    const d = ds.find((x) => x.querySelector('.n.critical.missing')) || ds.find((x) => x.querySelector('.n.critical'));
    return d ? d.id : null;
  });
  if (id) {
    await page.$eval('#' + id, (d) => d.scrollIntoView());
    await page.locator('#' + id).screenshot({ path: path.join(outDir, 'html-report-pipeline.png') });
  }
  for (const e of page.errors) check(false, e);
  check(page.errors.length === 0, 'no console error, page error or network request (report)');
  await page.close();
}

async function checkMermaid(browser) {
  const md = fs.readFileSync(summary, 'utf8');
  const blocks = [...md.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1]);
  check(blocks.length > 0, `the Markdown summary has ${blocks.length} Mermaid diagram(s)`);
  const page = await watchedPage(browser, 'mermaid');
  await page.setContent('<!DOCTYPE html><html><body><div id="out"></div></body></html>');
  await page.addScriptTag({ path: require.resolve('mermaid/dist/mermaid.min.js') });
  const results = await page.evaluate(async (diagrams) => {
    // GitHub's defaults: maxTextSize 50,000, maxEdges 500
    window.mermaid.initialize({ startOnLoad: false, maxTextSize: 50000, maxEdges: 500 });
    const out = [];
    for (let i = 0; i < diagrams.length; i += 1) {
      try {
        const parsed = await window.mermaid.parse(diagrams[i]);
        const { svg } = await window.mermaid.render(`m${i}`, diagrams[i]);
        out.push({ ok: !!parsed && svg.includes('<svg'), error: null });
      } catch (e) {
        out.push({ ok: false, error: String(e && e.message ? e.message : e) });
      }
    }
    return out;
  }, blocks);
  results.forEach((r, i) => check(r.ok, `Mermaid diagram ${i + 1} parses and renders${r.error ? ': ' + r.error : ''}`));
  for (const e of page.errors) check(false, e);
  await page.close();
}

// Elements and attributes no name may bring into a page or a diagram.
function injected(root) {
  const bad = [];
  for (const el of root.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    if (['iframe', 'img', 'object', 'embed'].includes(tag)) bad.push(`<${tag}>`);
    for (const a of el.attributes) {
      if (/^on/i.test(a.name)) bad.push(`${tag}[${a.name}]`);
      if (/^\s*javascript:/i.test(a.value)) bad.push(`${tag}[${a.name}=javascript:]`);
    }
  }
  return bad;
}

async function checkHostile(browser) {
  const md = fs.readFileSync(process.env.HOSTILE_MD, 'utf8');
  const blocks = [...md.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1]);
  check(blocks.length > 0, `the crafted summary has ${blocks.length} Mermaid diagram(s)`);
  const page = await watchedPage(browser, 'crafted mermaid');
  page.on('dialog', (d) => { page.errors.push(`crafted mermaid: a dialog opened: ${d.message()}`); d.dismiss(); });
  await page.setContent('<!DOCTYPE html><html><body><div id="out"></div></body></html>');
  await page.addScriptTag({ path: require.resolve('mermaid/dist/mermaid.min.js') });
  await page.addScriptTag({ content: injected.toString() });
  const results = await page.evaluate(async (diagrams) => {
    window.mermaid.initialize({ startOnLoad: false, maxTextSize: 50000, maxEdges: 500 });
    const out = [];
    for (let i = 0; i < diagrams.length; i += 1) {
      try {
        const parsed = await window.mermaid.parse(diagrams[i]);
        const { svg } = await window.mermaid.render(`h${i}`, diagrams[i]);
        const box = document.getElementById('out');
        box.innerHTML = svg;
        out.push({
          ok: !!parsed && svg.includes('<svg'),
          config: parsed && parsed.config ? Object.keys(parsed.config) : [],
          bad: injected(box),
          text: box.textContent,
          error: null,
        });
      } catch (e) {
        out.push({ ok: false, error: String(e && e.message ? e.message : e), bad: [], config: [], text: '' });
      }
    }
    return out;
  }, blocks);
  results.forEach((r, i) => {
    check(r.ok, `crafted Mermaid diagram ${i + 1} parses and renders${r.error ? ': ' + r.error : ''}`);
    check(r.config.length === 0, `crafted Mermaid diagram ${i + 1} carries no configuration (${r.config.join(', ')})`);
    check(r.bad.length === 0, `crafted Mermaid diagram ${i + 1} injects nothing (${r.bad.join(', ')})`);
  });
  // the directive in the application name is shown as text, not obeyed
  const directive = "app%%{init: {'theme':'dark'}}%%";
  check(results.some((r) => r.text.includes(directive)), 'the Mermaid directive in a name is drawn as its text');
  for (const e of page.errors) check(false, e);
  await page.close();

  const report = await watchedPage(browser, 'crafted report');
  report.on('dialog', (d) => { report.errors.push(`crafted report: a dialog opened: ${d.message()}`); d.dismiss(); });
  await report.goto('file://' + path.resolve(process.env.HOSTILE_HTML), { waitUntil: 'load' });
  await report.$$eval('details.pl', (ds) => ds.forEach((d) => { d.open = true; }));
  await report.evaluate(() => new Promise((r) => setTimeout(r, 500)));
  await report.addScriptTag({ content: injected.toString() });
  const bad = await report.evaluate(() => injected(document));
  check(bad.length === 0, `the crafted report injects no element or handler (${bad.join(', ')})`);
  const shown = await report.evaluate(() => document.body.textContent.includes('onerror=alert(1)'));
  check(shown, 'the crafted object key is shown as text');
  for (const e of report.errors) check(false, e);
  check(report.errors.length === 0, 'no dialog, console error, page error or network request (crafted report)');
  await report.close();
}

async function measureBig(browser) {
  const bytes = fs.statSync(bigHtml).size;
  const pipelines = (fs.readFileSync(bigHtml, 'utf8').match(/<details class="pl"/g) || []).length;
  check(bytes < MAX_BYTES, `report of ${pipelines} pipelines: ${(bytes / 1e6).toFixed(2)} MB (under 5 MB)`);
  // best of three loads: from navigation to the first frame after load
  const times = [];
  for (let k = 0; k < 3; k += 1) {
    const page = await watchedPage(browser, 'big report');
    const t0 = Date.now();
    await page.goto('file://' + path.resolve(bigHtml), { waitUntil: 'load' });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    times.push(Date.now() - t0);
    if (k === 2) {
      // opening a pipeline draws its diagram
      await page.$eval('details.pl:nth-of-type(2)', (d) => { d.open = true; });
      await page.waitForSelector('details.pl:nth-of-type(2) svg.wiring g.n', { timeout: 5000 });
      check(true, 'opening a pipeline of the large report draws its diagram');
      for (const e of page.errors) check(false, e);
    }
    await page.close();
  }
  const best = Math.min(...times);
  check(best < MAX_RENDER_MS, `report of ${pipelines} pipelines renders in ${best} ms (best of ${times.join(', ')}; under ${MAX_RENDER_MS} ms)`);
  fs.writeFileSync(path.join(outDir, 'big-report.txt'), `pipelines=${pipelines} bytes=${bytes} render_ms=${best} runs_ms=${times.join(',')}\n`);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    await checkReport(browser);
    await checkMermaid(browser);
    if (process.env.HOSTILE_HTML && process.env.HOSTILE_MD) await checkHostile(browser);
    if (bigHtml) await measureBig(browser);
  } finally {
    await browser.close();
  }
  console.log(failures === 0 ? 'browser check: all passed' : `browser check: ${failures} check(s) failed`);
  process.exit(failures === 0 ? 0 : 1);
})().catch((e) => {
  console.error(`browser check: ${e.stack || e}`);
  process.exit(1);
});
