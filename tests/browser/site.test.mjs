// The public site as people use it, in headless Chromium against the real `verbatim` binary:
// - axe-core finds no WCAG 2.2 A/AA violation on any page type in any language;
// - a stakeholder responds through the form (with and without JavaScript), gets the receipt,
//   finds the response on the page and downloads the exact bytes;
// - keyboard-only use reaches every form control in order; the filter, the local time and the
//   countdown work; the strict CSP blocks nothing the site needs.
// Screenshots of every page type go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

const TOKEN = 'browser-test-admin-token-0123456789';
const LANGUAGES = ['ar', 'en', 'es', 'fr', 'ru', 'zh'];
const ARTIFACTS = resolve(import.meta.dirname, '..', 'artifacts');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];

let server;
let base;
// Two witnesses (`verbatim witness serve`) cosign every checkpoint the server publishes.
const witnesses = [];
let data;
let browser;
const cspViolations = [];

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(method, path, body, admin = false) {
  const headers = { 'content-type': 'application/json' };
  if (admin) headers.authorization = `Bearer ${TOKEN}`;
  const reply = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
  const text = await reply.text();
  assert.ok(reply.ok, `${method} ${path}: ${reply.status} ${text}`);
  return JSON.parse(text);
}

async function until(what, check, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const published = (id, count) =>
  until(`${count} responses published in ${id}`, async () => {
    const reply = await fetch(`${base}/consultations/${id}/responses.json`);
    return reply.ok && (await reply.json()).total >= count;
  });

async function newPage(options = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
  });
  page.on('pageerror', (error) => cspViolations.push(`script error: ${error.message}`));
  return page;
}

/** axe-core on the page as it is now: no WCAG A/AA violation. */
async function accessible(page, label) {
  const results = await new AxeBuilder({ page }).withTags(WCAG).analyze();
  const found = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`
  );
  assert.deepEqual(found, [], `axe violations on ${label} (${page.url()})`);
}

/** axe-core on a page that was rendered with JavaScript off (axe itself needs JavaScript):
 * the same HTML, loaded into a JavaScript-enabled page of the same origin. */
async function accessibleWithoutJs(page, label) {
  const html = await page.content();
  const checker = await newPage();
  await checker.goto(`${base}/`);
  await checker.setContent(html, { waitUntil: 'load' });
  await accessible(checker, label);
  await checker.context().close();
}

async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Runs `verbatim ARGS` to completion; its stdout and stderr. */
function verbatim(args) {
  const run = spawnSync(process.env.VERBATIM_BIN, args, { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return { out: run.stdout, err: run.stderr };
}

/** A running `verbatim` whose stdout announces its URL after `prefix`. */
function announced(child, prefix) {
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolveUrl, reject) => {
    child.on('exit', (code) => reject(new Error(`${prefix}: exited with ${code}`)));
    lines.on('line', (line) => {
      if (line.startsWith(prefix)) resolveUrl(line.slice(prefix.length).replace(/\/$/, ''));
    });
  });
}

/** A witness following every consultation of the log `logKey` signs; its key and URL. */
async function startWitness(name, logKey) {
  const dir = mkdtempSync(join(tmpdir(), 'verbatim-witness-'));
  const vkey = verbatim(['witness', 'key', '--data', dir, '--name', name]).out.trim();
  verbatim(['witness', 'add-log', '--data', dir, 'verbatim.localhost/consultations/*', logKey]);
  const child = spawn(process.env.VERBATIM_BIN, ['witness', 'serve', '--addr', '127.0.0.1:0', '--data', dir], {
    env: { ...process.env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  witnesses.push({ child, dir });
  return { vkey, url: await announced(child, 'Witness is serving at ') };
}

before(async () => {
  data = mkdtempSync(join(tmpdir(), 'verbatim-browser-'));
  // The log's key first, so that the witnesses know it before the first checkpoint.
  const keygen = verbatim(['keygen', '--name', 'verbatim.localhost']);
  writeFileSync(join(data, 'log-signing-key'), keygen.out);
  const logKey = keygen.err.split('verifier key (publish it): ')[1].trim();
  const one = await startWitness('witness.example/one', logKey);
  const two = await startWitness('witness.example/two', logKey);
  const policy = join(data, 'witnesses.policy');
  writeFileSync(policy, `witness one ${one.vkey} ${one.url}\nwitness two ${two.vkey} ${two.url}\n`
    + 'group both all one two\nquorum both\n');
  // The set-up posts over a hundred responses from this one address (a paged consultation):
  // more than the per-client rate limit allows a minute, which tests/api/flow.rs checks on its own.
  // The search index is rebuilt every second here (a minute by default) so the search test
  // does not wait, in blocks of two responses (a thousand by default) so that its five
  // responses span three blocks, which the search page merges.
  const args = ['serve', '--addr', '127.0.0.1:0', '--data', data, '--rate-limit', 'off', '--search-every', '1s',
    '--search-block-size', '2', '--witness-policy', policy];
  server = spawn(process.env.VERBATIM_BIN, args, {
    env: { ...process.env, VERBATIM_ADMIN_TOKEN: TOKEN, VERBATIM_IN_FLIGHT_GRACE_SECONDS: '1', RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: server.stdout });
  base = await new Promise((resolveUrl, reject) => {
    server.on('exit', (code) => reject(new Error(`verbatim exited with ${code}`)));
    lines.on('line', (line) => {
      const prefix = 'Verbatim is serving at ';
      if (line.startsWith(prefix)) resolveUrl(line.slice(prefix.length).replace(/\/$/, ''));
    });
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });

  const question = { en: 'What should be done?', fr: 'Que faut-il faire ?', ar: 'ما الذي ينبغي عمله؟' };
  await api('POST', '/api/admin/consultations', {
    id: 'open-consultation',
    title: { en: 'Internet access for all', fr: "L'accès à l'Internet pour tous", ar: 'النفاذ إلى الإنترنت للجميع' },
    questions: [question, { en: 'Which measures work best?' }],
    meeting_date: '2031-03-31',
  }, true);
  await api('POST', '/api/admin/consultations', {
    id: 'scheduled-consultation',
    title: { en: 'Future consultation', zh: '未来的磋商' },
    questions: [question],
    meeting_date: '2031-03-31',
    opens_at: '2030-01-01T00:00:00Z',
  }, true);
  const soon = new Date(Date.now() + 15000).toISOString();
  await api('POST', '/api/admin/consultations', {
    id: 'closing-consultation',
    title: { en: 'A consultation that closes during the test', es: 'Una consulta que se cierra durante la prueba' },
    questions: [question],
    meeting_date: '2031-03-31',
    deadline: soon,
  }, true);
  for (const name of ['Grace Hopper', 'Alan Turing']) {
    await api('POST', '/api/consultations/closing-consultation/responses', {
      name, category: 'academia', country: 'US', text: 'The same text, sent twice.',
    });
  }
  await api('POST', '/api/admin/consultations', {
    id: 'paged-consultation',
    title: { en: 'A consultation with more than one page of responses' },
    questions: [question],
    meeting_date: '2031-03-31',
  }, true);
  for (let i = 1; i <= 101; i += 1) {
    await api('POST', '/api/consultations/paged-consultation/responses', {
      name: `Respondent ${i}`,
      organization: i === 101 ? 'Page Two Society' : `Organization ${i % 7}`,
      category: i % 2 ? 'civil-society' : 'government',
      country: i % 2 ? 'CH' : 'FR',
      text: `Response number ${i}.`,
    });
  }
  await published('paged-consultation', 101);
});

after(async () => {
  await browser?.close();
  server?.kill();
  for (const witness of witnesses) {
    witness.child.kill();
    rmSync(witness.dir, { recursive: true, force: true });
  }
  if (data) rmSync(data, { recursive: true, force: true });
});

/** A PDF (judged by content) with bytes that would not survive any re-encoding. */
function pdfBytes(size = 4096 + 27) {
  return Buffer.concat([
    Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\r\n', 'latin1'),
    randomBytes(size - 27),
    Buffer.from('\r\n\0\x01\xff%%EOF\n', 'latin1'),
  ]);
}

async function respondThroughTheForm(page, lang, person, file) {
  await page.goto(`${base}/${lang}/consultations/open-consultation/`);
  await fillTheForm(page, person);
  await page.setInputFiles('#file', file);
  await Promise.all([page.waitForURL(/\/responses\?lang=/), page.click('#response-form button[type=submit]')]);
}

/** Fills every field of the response form on `page` (already open), files aside. */
async function fillTheForm(page, person) {
  await page.fill('#name', person.name);
  await page.fill('#organization', person.organization);
  await page.fill('#email', 'never-published@example.org');
  await page.selectOption('#category', 'civil-society');
  await page.fill('#country', 'ch');
  await page.fill('#text', person.text);
}

/** Holds the form's final JSON post (the response with its upload ids) until `release()`, so
 * the page can be checked while it shows the finished progress bars. */
async function holdTheResponse(page) {
  let release;
  const released = new Promise((r) => {
    release = r;
  });
  let held;
  const arrived = new Promise((r) => {
    held = r;
  });
  await page.route(
    (url) => url.pathname.endsWith('/responses'),
    async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      held(route.request());
      await released;
      return route.continue();
    }
  );
  return { arrived, release };
}

test('with JavaScript, files larger than 10 MiB go through presigned uploads with a progress bar each, and come back byte for byte', async () => {
  const big = pdfBytes(12 * 1024 * 1024);
  const small = pdfBytes();
  const bigPath = join(data, 'position paper.pdf');
  const smallPath = join(data, 'annex.pdf');
  writeFileSync(bigPath, big);
  writeFileSync(smallPath, small);
  const page = await newPage();
  const puts = [];
  page.on('request', (request) => {
    if (request.method() === 'PUT') puts.push(new URL(request.url()).pathname);
  });
  const hold = await holdTheResponse(page);
  await page.goto(`${base}/consultations/open-consultation/`);
  await fillTheForm(page, { name: 'Ada Lovelace', organization: 'Analytical Society', text: 'Line one\r\nLine two' });
  await page.fill('#answer-2', 'Answer two\nsecond line');
  await page.setInputFiles('#file', [bigPath, smallPath]);
  // Uploads throttled to 8 MiB/s (Chromium's own network emulation), so the 12 MiB file takes
  // long enough for its bar to be seen part-way; every value each bar takes is recorded.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 8 * 1024 * 1024,
  });
  await page.evaluate(() => {
    window.barValues = {};
    new MutationObserver((changes) => {
      for (const change of changes) {
        const bar = change.target;
        if (bar.tagName !== 'PROGRESS') continue;
        (window.barValues[bar.labels[0].textContent] ||= []).push(bar.value);
      }
    }).observe(document.getElementById('response-form'), { subtree: true, attributeFilter: ['value'] });
  });
  await page.click('#response-form button[type=submit]');

  // The files are in storage before the response is sent; each has its labelled bar, full.
  const request = await hold.arrived;
  const sent = request.postDataJSON();
  assert.equal(sent.uploads.length, 2, JSON.stringify(sent));
  assert.equal(sent.text, 'Line one\r\nLine two', 'line breaks as a form sends them');
  assert.deepEqual(sent.answers, { 2: 'Answer two\r\nsecond line' }, 'answers by question');
  assert.deepEqual(
    puts,
    sent.uploads.map((id) => `/api/uploads/open-consultation/${id}`),
    'one PUT per file, to the granted URL'
  );
  for (const [name, bytes] of [['position paper.pdf', big], ['annex.pdf', small]]) {
    const bar = page.getByLabel(name, { exact: true });
    assert.equal(await bar.evaluate((e) => e.tagName), 'PROGRESS');
    assert.equal(await bar.evaluate((e) => e.max), bytes.length);
    assert.equal(await bar.evaluate((e) => e.value), bytes.length, `${name}: its bar is full`);
  }
  assert.equal(await page.locator('#response-form progress').count(), 2);
  const values = await page.evaluate(() => window.barValues);
  assert.ok(
    values['position paper.pdf'].some((v) => v > 0 && v < big.length),
    `the bar moved with the upload: ${values['position paper.pdf']}`
  );
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
  });
  assert.match(await page.locator('#upload-status').innerText(), /recording your response/);
  await screenshot(page, 'en-upload-progress');
  await accessible(page, 'the form with its progress bars');
  const leaving = () =>
    page.evaluate(() => {
      const event = new Event('beforeunload', { cancelable: true });
      window.dispatchEvent(event);
      return event.defaultPrevented;
    });
  assert.equal(await leaving(), true, 'leaving while the response is being sent asks first');
  hold.release();

  // The receipt, in the page: number, and the SHA-256 of the text and of each file.
  const heading = page.locator('h2#respond');
  await until('the receipt', async () => /response \d+ received/.test(await heading.innerText()));
  const number = Number((await heading.innerText()).match(/response (\d+) received/)[1]);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'respond', 'focus moves to the receipt');
  const receiptText = await page.locator('section[aria-labelledby=respond]').innerText();
  for (const bytes of [big, small, Buffer.from('Line one\r\nLine two')]) {
    assert.ok(receiptText.includes(sha256(bytes)), `the receipt shows ${sha256(bytes)}`);
  }
  await screenshot(page, 'en-upload-receipt');
  await accessible(page, 'the receipt shown in the page');
  assert.equal(await leaving(), false, 'once the receipt is shown, leaving is free');

  await published('open-consultation', number);
  const head = await (await fetch(`${base}/consultations/open-consultation/responses.json`)).json();
  const manifestPage = head.pages[Math.ceil(number / head.page_size) - 1];
  const listed = (await (await fetch(`${base}${manifestPage}`)).json()).responses.find((r) => r.number === number);
  assert.equal(listed.channel, 'web', 'a response made on the site counts as the web channel');
  await page.goto(`${base}/consultations/open-consultation/`);
  const entry = page.locator(`#response-${number}`);
  assert.match(await entry.innerText(), /Ada Lovelace/);
  assert.match(await entry.innerText(), /Analytical Society/);
  assert.ok(!(await page.content()).includes('never-published@example.org'), 'email never published');
  for (const [name, bytes] of [['position paper.pdf', big], ['annex.pdf', small]]) {
    const link = entry.getByRole('link', { name });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const saved = readFileSync(await download.path());
    assert.equal(Buffer.compare(saved, bytes), 0, `${name} is downloaded byte for byte as sent`);
    assert.equal(download.suggestedFilename(), name);
  }
  await page.context().close();
});

test('with JavaScript, a file over the limit is refused before it is sent, next to the file field, in the page\'s language', async () => {
  const path = join(data, 'trop gros.pdf');
  writeFileSync(path, pdfBytes(25 * 1024 * 1024 + 1));
  const page = await newPage();
  const granted = [];
  page.on('request', (request) => {
    if (request.url().includes('/uploads')) granted.push(request.url());
  });
  await page.goto(`${base}/fr/consultations/open-consultation/`);
  await fillTheForm(page, { name: 'Trop Gros', organization: 'Organisation', text: 'Un texte.' });
  await page.setInputFiles('#file', path);
  const error = page.locator('#file-error');
  assert.ok(await error.isVisible(), 'shown as soon as the file is chosen');
  assert.match(await error.innerText(), /trop gros\.pdf dépasse 25 Mo/);
  await page.click('#response-form button[type=submit]');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'file', 'the browser keeps the form');
  assert.equal(await page.getAttribute('#file', 'aria-invalid'), 'true');
  assert.deepEqual(granted, [], 'nothing was sent');
  assert.ok(page.url().endsWith('/fr/consultations/open-consultation/'));
  await screenshot(page, 'fr-upload-too-large');
  await accessible(page, 'the form refusing a file over the limit');
  await page.context().close();
});

test('with JavaScript, a refused file type shows the server\'s refusal next to the file field, and the response goes through once fixed', async () => {
  const program = join(data, 'programme.exe');
  writeFileSync(program, Buffer.concat([Buffer.from('MZ\x90\0\x03', 'latin1'), randomBytes(2048)]));
  const fixed = join(data, 'documento.pdf');
  const bytes = pdfBytes();
  writeFileSync(fixed, bytes);
  const page = await newPage();
  await page.goto(`${base}/es/consultations/open-consultation/`);
  await fillTheForm(page, { name: 'Sofía Kovalevskaya', organization: 'Sociedad', text: 'Una respuesta.' });
  await page.setInputFiles('#file', program);
  await page.click('#response-form button[type=submit]');
  const error = page.locator('#file-error');
  await until('the refusal', () => error.isVisible());
  assert.match(await error.innerText(), /No aceptada \(error 415\)/);
  assert.match(await error.innerText(), /programme\.exe/, 'the server names the file');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'file', 'focus on the field concerned');
  assert.equal(await page.inputValue('#name'), 'Sofía Kovalevskaya', 'what was typed is kept');
  assert.equal(await page.inputValue('#text'), 'Una respuesta.');
  await screenshot(page, 'es-upload-refused');
  await accessible(page, 'the form showing a refused file');

  await page.setInputFiles('#file', fixed);
  assert.ok(!(await error.isVisible()), 'a new choice clears the error');
  await page.click('#response-form button[type=submit]');
  const heading = page.locator('h2#respond');
  await until('the receipt', async () => /respuesta \d+/.test(await heading.innerText()));
  const receipt = await page.locator('main').innerText();
  assert.ok(receipt.includes(sha256(bytes)));
  assert.match(receipt, /Su respuesta es la entrada \d+ del registro público de transparencia/, 'the signed entry in Spanish');
  await page.context().close();
});

test('the form works without JavaScript, and the receipt and errors come in the reader\'s language', async () => {
  const path = join(data, 'annexe.pdf');
  writeFileSync(path, pdfBytes());
  for (const lang of LANGUAGES) {
    const page = await newPage({ javaScriptEnabled: false });
    await respondThroughTheForm(page, lang, {
      name: `Répondant ${lang}`, organization: 'Organisation', text: `Texte ${lang}`,
    }, path);
    assert.equal(await page.getAttribute('html', 'lang'), lang);
    assert.equal(await page.getAttribute('html', 'dir'), lang === 'ar' ? 'rtl' : 'ltr');
    assert.ok((await page.locator('main').innerText()).includes('annexe.pdf'));
    await screenshot(page, `${lang}-receipt-nojs`);
    await accessibleWithoutJs(page, `the ${lang} receipt`);

    // A country that does not exist: the server's error page names the field and links to it.
    await page.goto(`${base}/${lang}/consultations/open-consultation/`);
    await page.fill('#name', 'Someone');
    await page.fill('#text', 'A response with a country that does not exist.');
    await page.fill('#country', 'QQ');
    await Promise.all([page.waitForURL(/\/responses\?lang=/), page.click('#response-form button[type=submit]')]);
    assert.equal(await page.getAttribute('html', 'lang'), lang);
    const back = page.locator('main a[href$="#country"]');
    assert.equal(await back.count(), 1, 'the error page links back to the field');
    await screenshot(page, `${lang}-error`);
    await accessibleWithoutJs(page, `the ${lang} error page`);
    await back.click();
    assert.ok(page.url().endsWith(`/${lang}/consultations/open-consultation/#country`));
    await page.context().close();
  }
});

test('every page type has no axe violation in any language, with a working language switcher', async () => {
  // Wait for the closing consultation's dossier so its closed page and summary exist.
  await until('the dossier', async () => {
    const reply = await fetch(`${base}/api/consultations/closing-consultation`);
    return reply.ok && (await reply.json()).dossier;
  }, 60000);
  await until('the closed page', async () => {
    const reply = await fetch(`${base}/consultations/closing-consultation/`);
    return reply.ok && (await reply.text()).includes('dossier.zip');
  });
  const pageTypes = {
    index: '/',
    consultation: '/consultations/open-consultation/',
    'second-page': '/consultations/paged-consultation/page/2/',
    scheduled: '/consultations/scheduled-consultation/',
    closed: '/consultations/closing-consultation/',
    summary: '/consultations/closing-consultation/summary/',
    response: '/consultations/paged-consultation/responses/101/',
    // Written once a response on open-consultation is published (the first test sends one).
    question: '/consultations/open-consultation/questions/2/',
    verify: '/verify/',
  };
  const page = await newPage();
  for (const prefix of ['', ...LANGUAGES.map((l) => `/${l}`)]) {
    const lang = prefix ? prefix.slice(1) : 'en';
    for (const [type, path] of Object.entries(pageTypes)) {
      const reply = await page.goto(base + prefix + path);
      assert.equal(reply.status(), 200, prefix + path);
      const csp = reply.headers()['content-security-policy'];
      assert.ok(csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), csp);
      assert.equal(await page.getAttribute('html', 'lang'), lang, prefix + path);
      assert.equal(await page.getAttribute('html', 'dir'), lang === 'ar' ? 'rtl' : 'ltr');
      const switcher = page.locator('header nav a[hreflang]');
      assert.equal(await switcher.count(), 6, 'a link to each language');
      for (const other of LANGUAGES) {
        assert.equal(
          await page.locator(`header nav a[hreflang=${other}]`).getAttribute('href'),
          `/${other}${path}`
        );
      }
      await accessible(page, `${type} in ${prefix || 'unprefixed English'}`);
      if (prefix) await screenshot(page, `${lang}-${type}`);
    }
  }
  // The closed consultation offers the dossier, and the summary groups the identical texts.
  await page.goto(`${base}/fr/consultations/closing-consultation/summary/`);
  assert.match(await page.locator('main').innerText(), /2 réponses identiques/);
  // Its charts are pictures with a name, each with the same numbers in a table.
  assert.equal(await page.locator('figure.chart svg[role=img]').count(), 5);
  assert.equal(await page.locator('figure.chart table').count(), 5);
  await page.context().close();
});

test('the Secretariat console: a person added on the command line signs in, and the console pages have no axe violation in any language', async () => {
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.env.VERBATIM_BIN, ['admin', 'add-user', 'browser-ada', '--admin', '--data', data], {
    input: 'correct horse battery staple\n',
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  // Its own consultation: moving a deadline here changes nothing the other tests look at.
  await api('POST', '/api/admin/consultations', {
    id: 'console-consultation',
    title: { en: 'Console test', fr: 'Essai de la console', ar: 'اختبار وحدة التحكم' },
    questions: [{ en: 'Anything?' }],
    meeting_date: '2031-03-31',
  }, true);
  const page = await newPage();
  await page.goto(`${base}/admin/`);
  assert.match(page.url(), /\/admin\/sign-in\?lang=en$/, 'signed out: to the sign-in page');
  // A wrong password: the error summary links to the field.
  await page.fill('#name', 'browser-ada');
  await page.fill('#password', 'not the password at all');
  await page.click('main button[type=submit]');
  assert.equal(await page.locator('.error-summary a[href="#name"]').count(), 1);
  await accessible(page, 'the sign-in page with an error');
  await page.fill('#name', 'browser-ada');
  await page.fill('#password', 'correct horse battery staple');
  await page.click('main button[type=submit]');
  assert.match(page.url(), /\/admin\/\?lang=en$/);
  const pages = {
    list: '/admin/',
    consultation: '/admin/consultations/console-consultation',
    new: '/admin/consultations/new',
    users: '/admin/users',
    totp: '/admin/account/totp',
  };
  for (const lang of LANGUAGES) {
    for (const [type, path] of Object.entries(pages)) {
      const reply = await page.goto(`${base}${path}?lang=${lang}`);
      assert.equal(reply.status(), 200, `${path} in ${lang}`);
      assert.equal(await page.getAttribute('html', 'lang'), lang);
      assert.equal(await page.getAttribute('html', 'dir'), lang === 'ar' ? 'rtl' : 'ltr');
      for (const other of LANGUAGES) {
        assert.equal(
          await page.locator(`head link[rel=alternate][hreflang=${other}]`).getAttribute('href'),
          `${path}?lang=${other}`
        );
      }
      await accessible(page, `console ${type} in ${lang}`);
      await screenshot(page, `${lang}-console-${type}`);
    }
  }
  // The check-your-answers page shows the deadline the meeting date gives, and a form in
  // error links each error from the summary at the top.
  await page.goto(`${base}/admin/consultations/new?lang=en`);
  await page.click('main button[type=submit]');
  assert.ok(await page.locator('.error-summary a[href="#id"]').count() === 1);
  await accessible(page, 'the create page with an error');
  await page.fill('#id', 'console-created');
  await page.fill('#title_en', 'Created in the console');
  await page.fill('#questions_en', 'First question?\nSecond question?');
  await page.fill('#questions_fr', 'Première question ?');
  await page.fill('#meeting_date', '2031-03-31');
  await page.click('main button[type=submit]');
  assert.match(await page.locator('main').innerText(), /28 February 2031, 23:59 Geneva time/);
  await accessible(page, 'check your answers');
  await page.click('button[value=create]');
  assert.match(page.url(), /\/admin\/consultations\/console-created\?lang=en$/);
  // The sign-in page itself, in every language (signed out in a fresh context).
  const signedOut = await newPage();
  for (const lang of LANGUAGES) {
    await signedOut.goto(`${base}/admin/sign-in?lang=${lang}`);
    assert.equal(await signedOut.getAttribute('html', 'lang'), lang);
    await accessible(signedOut, `console sign-in in ${lang}`);
  }
  await signedOut.context().close();
  // Moving the deadline through the console names the person in the audit log.
  await page.goto(`${base}/admin/consultations/console-consultation?lang=en`);
  await page.fill('#meeting_date', '2031-06-30');
  await page.fill('#reason', 'The meeting moved');
  await page.click('form[action$="/deadline"] button[type=submit]');
  const audit = await api('GET', '/api/admin/consultations/console-consultation/audit', undefined, true);
  assert.equal(audit.at(-1).by, 'browser-ada');
  // Signing out ends the session.
  await page.click('header form button[type=submit]');
  await page.goto(`${base}/admin/`);
  assert.match(page.url(), /\/admin\/sign-in/);
  await page.context().close();
});

test('a whole consultation run from the console: created with two questions, a description and a background document; answered through the form; deadline moved; the outcome published and seen on the public site', async () => {
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.env.VERBATIM_BIN, ['admin', 'add-user', 'browser-bea', '--data', data], {
    input: 'another horse battery staple\n',
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  const page = await newPage();
  await page.goto(`${base}/admin/sign-in?lang=en`);
  await page.fill('#name', 'browser-bea');
  await page.fill('#password', 'another horse battery staple');
  await page.click('main button[type=submit]');
  assert.match(page.url(), /\/admin\/\?lang=en$/);

  // Created with two questions in English and French, and a description.
  await page.goto(`${base}/admin/consultations/new?lang=en`);
  await page.fill('#id', 'console-flow');
  await page.fill('#title_en', 'Run from the console');
  await page.fill('#title_fr', 'Conduite depuis la console');
  await page.fill('#questions_en', 'What works?\nWhat should change?');
  await page.fill('#questions_fr', 'Qu\'est-ce qui marche ?\nQue faut-il changer ?');
  await page.fill('#description_en', 'Why the Group asks.\n\nBackground: https://www.itu.int/council');
  await page.fill('#meeting_date', '2031-05-31');
  await page.click('main button[type=submit]');
  await page.click('button[value=create]');
  assert.match(page.url(), /\/admin\/consultations\/console-flow\?lang=en$/);

  // A background document, published byte-exact with its SHA-256.
  const paper = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(2048)]);
  const paperPath = join(data, 'background-paper.pdf');
  writeFileSync(paperPath, paper);
  await page.setInputFiles('#document-file', paperPath);
  await page.click('form[action$="/documents"] button[type=submit]');
  assert.match(page.url(), /#documents$/);
  assert.ok((await page.locator('#documents ~ ul, section[aria-labelledby=documents]').first().innerText()).includes(sha256(paper)));

  // A stakeholder answers both questions through the public form, in French.
  const stakeholder = await newPage();
  await until('the consultation page', async () =>
    (await fetch(`${base}/fr/consultations/console-flow/`)).ok);
  await stakeholder.goto(`${base}/fr/consultations/console-flow/`);
  assert.ok((await stakeholder.locator('main').innerText()).includes('Why the Group asks.'));
  await stakeholder.fill('#name', 'Répondante');
  await stakeholder.fill('#answer-1', 'Le formulaire marche.');
  await stakeholder.fill('#answer-2', 'Rien, merci.\nDeuxième ligne.');
  await Promise.all([stakeholder.waitForURL(/\/responses/), stakeholder.click('#response-form button[type=submit]')]);
  await published('console-flow', 1);
  const answer = await fetch(`${base}/consultations/console-flow/responses/1/answer-2.txt`);
  assert.equal(answer.status, 200);
  assert.equal(await answer.text(), 'Rien, merci.\r\nDeuxième ligne.', 'the answer as the browser sent it');
  await stakeholder.context().close();

  // The deadline moved, with a reason; the audit trail on the page names the person.
  await page.goto(`${base}/admin/consultations/console-flow?lang=en`);
  await page.fill('#meeting_date', '2031-06-30');
  await page.fill('#reason', 'The meeting moved');
  await page.click('form[action$="/deadline"] button[type=submit]');
  const trail = await page.locator('main table').last().innerText();
  assert.match(trail, /browser-bea/);
  assert.match(trail, /deadline moved: The meeting moved/);

  // A Spanish title added from the console's wording form; the responses so far are charted.
  await page.fill('#wording-title-es', 'Conducida desde la consola');
  await page.click('form[action$="/wording"] button[type=submit]');
  assert.match(page.url(), /#wording$/);
  assert.match(await page.locator('main table').last().innerText(), /Title or questions changed/);
  await until('the response charted on the console', async () => {
    await page.goto(`${base}/admin/consultations/console-flow?lang=en`);
    return (await page.locator('#tally ~ figure, section[aria-labelledby=tally] figure').count()) > 0;
  });
  assert.equal((await api('GET', '/api/consultations/console-flow')).title.es, 'Conducida desde la consola');

  // The outcome: an English text and the report; then seen on the public site.
  const report = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(4096)]);
  const reportPath = join(data, 'report.pdf');
  writeFileSync(reportPath, report);
  await page.fill('#outcome-text-en', 'The Group examined every response.\n\nIts conclusions are attached.');
  await page.setInputFiles('#outcome-file', reportPath);
  await page.click('form[action$="/outcome"] button[type=submit]');
  assert.match(page.url(), /#outcome$/);
  assert.match(await page.locator('main').innerText(), /Version 1/);
  await accessible(page, 'the console page of a consultation with documents and an outcome');
  await page.goto(`${base}/admin/consultations/console-flow?lang=ar`);
  await accessible(page, 'the same, in Arabic');
  await screenshot(page, 'ar-console-consultation-outcome');
  const view = await api('GET', '/api/consultations/console-flow');
  assert.equal(view.outcome.version, 1);
  const reportFile = view.outcome.files.find((f) => f.name === 'report.pdf');
  assert.equal(reportFile.sha256, sha256(report));
  const publicPage = await newPage();
  await until('the outcome on the public page', async () => {
    await publicPage.goto(`${base}/consultations/console-flow/`);
    return (await publicPage.locator('section.outcome').count()) === 1;
  });
  await publicPage.click('section.outcome a[href$="/outcome/"]');
  assert.match(await publicPage.locator('main').innerText(), /The Group examined every response\./);
  const download = await fetch(base + reportFile.url);
  assert.equal(sha256(Buffer.from(await download.arrayBuffer())), sha256(report));
  await accessible(publicPage, 'the outcome page');
  await publicPage.context().close();
  await page.context().close();
});

test('titles fall back to a stated language when a translation is missing', async () => {
  const page = await newPage();
  await page.goto(`${base}/ru/consultations/open-consultation/`);
  assert.equal(await page.locator('h1 [lang=en]').innerText(), 'Internet access for all');
  assert.match(await page.locator('main p.note').innerText(), /английский/);
  await page.goto(`${base}/fr/consultations/open-consultation/`);
  assert.equal(await page.locator('h1').innerText(), "L'accès à l'Internet pour tous");
  await page.context().close();
});

test('keyboard only: skip link first, then every form control in order', async () => {
  const page = await newPage();
  await page.goto(`${base}/consultations/open-consultation/`);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
  const order = [];
  for (let i = 0; i < 80 && !order.includes('subscribe-email'); i += 1) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => document.activeElement.id || document.activeElement.tagName);
    order.push(id);
  }
  const controls = ['name', 'organization', 'email', 'category', 'country', 'answer-1', 'answer-2', 'text', 'file'];
  const positions = controls.map((id) => order.indexOf(id));
  assert.ok(positions.every((p) => p >= 0), `every control is reachable: ${order.join(' ')}`);
  assert.deepEqual([...positions].sort((a, b) => a - b), positions, 'in reading order');
  await page.focus('#name');
  await page.keyboard.type('Keyboard User');
  await page.focus('#text');
  await page.keyboard.type('Typed without a mouse.');
  for (let i = 0; i < 5; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement.type === 'submit')) break;
  }
  assert.equal(await page.evaluate(() => document.activeElement.type), 'submit');
  await Promise.all([page.waitForURL(/\/responses\?lang=/), page.keyboard.press('Enter')]);
  assert.match(await page.locator('h1').innerText(), /received/, await page.locator('main').innerText());
  await page.context().close();
});

test('with JavaScript: local time, countdown, and the filter on one page and on all pages', async () => {
  let page = await newPage({ timezoneId: 'Asia/Tokyo' });
  await page.goto(`${base}/fr/consultations/paged-consultation/`);
  assert.ok((await page.locator('.local-time').count()) > 0, 'the reader\'s time zone is shown');
  assert.match(await page.locator('.local-time').first().innerText(), /Tokyo/);
  await page.context().close();
  // In UTC the zone is said once, in every language ("04:43 PM UTC, UTC" said it twice).
  for (const lang of ['en', 'fr', 'ar', 'zh']) {
    const utc = await newPage({ timezoneId: 'UTC' });
    await utc.goto(`${base}${lang === 'en' ? '' : '/' + lang}/consultations/paged-consultation/`);
    const note = await utc.locator('.local-time').first().innerText();
    assert.doesNotMatch(note, /UTC[^]*UTC/, `${lang}: ${note}`);
    assert.ok(note.length > 0, lang);
    await utc.context().close();
  }
  page = await newPage({ timezoneId: 'Asia/Tokyo' });
  await page.goto(`${base}/fr/consultations/paged-consultation/`);
  const countdown = page.locator('#countdown');
  assert.ok(await countdown.isVisible());
  assert.match(await countdown.innerText(), /jours?/);

  await page.fill('#filter-text', 'Respondent 7');
  const visible = await page.locator('ol.responses > li:visible').count();
  assert.equal(visible, 1 + 10, 'Respondent 7 and 70–79 match on page 1');
  assert.match(await page.locator('#filter-status').innerText(), /11 réponses sur 100/);
  await accessible(page, 'the filtered page');
  await page.fill('#filter-text', '');
  await page.selectOption('#filter-category', 'government');
  await page.fill('#filter-country', 'fr');
  assert.equal(await page.locator('ol.responses > li:visible').count(), 50);

  await page.selectOption('#filter-category', '');
  await page.fill('#filter-country', '');
  await page.fill('#filter-text', 'page two');
  assert.equal(await page.locator('ol.responses > li:visible').count(), 0);
  // French counts 0 and 1 in the singular (CLDR "one"), picked by Intl.PluralRules.
  assert.match(await page.locator('#filter-status').innerText(), /^0 réponse sur 100 correspond /);
  await page.click('#filter-all');
  await until('results from every page', async () => (await page.locator('#filter-results li').count()) === 1);
  await until('the count of all pages', async () =>
    /^1 réponse sur 101 correspond /.test(await page.locator('#filter-status').innerText()));
  const found = page.locator('#filter-results a');
  assert.equal(await found.getAttribute('href'), '/fr/consultations/paged-consultation/page/2/#response-101');
  await screenshot(page, 'fr-filter');
  // Followed with the keyboard: after a full-page screenshot, headless Chromium under
  // Playwright ignores the next mouse click on this link (reproduced outside the site's code).
  await found.focus();
  await Promise.all([page.waitForURL(/page\/2\//), page.keyboard.press('Enter')]);
  assert.match(await page.locator('#response-101').innerText(), /Page Two Society/);
  await page.context().close();
});

test('the Atom feeds list the consultations and the latest responses', async () => {
  const all = await fetch(`${base}/feed.atom`);
  assert.equal(all.status, 200);
  assert.match(all.headers.get('content-type'), /application\/atom\+xml/);
  const allText = await all.text();
  assert.ok(allText.includes('<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">'));
  assert.ok(allText.includes('/consultations/paged-consultation/feed.atom'));
  const feed = await (await fetch(`${base}/consultations/paged-consultation/feed.atom`)).text();
  assert.ok(feed.includes('Respondent 101'), 'the newest response is in the feed');
  // One feed per language edition, in its words, linking that edition's pages.
  const arabic = await fetch(`${base}/ar/consultations/paged-consultation/feed.atom`);
  assert.match(arabic.headers.get('content-type'), /application\/atom\+xml/);
  const arabicText = await arabic.text();
  assert.ok(arabicText.includes('xml:lang="ar"'), arabicText.slice(0, 300));
  assert.ok(arabicText.includes('href="/ar/consultations/paged-consultation/page/2/#response-101"'));
  const frenchAll = await (await fetch(`${base}/fr/feed.atom`)).text();
  assert.ok(frenchAll.includes('<title>Consultations — '), frenchAll.slice(0, 400));
  assert.ok(frenchAll.includes('/fr/consultations/paged-consultation/feed.atom'));
  const page = await newPage();
  await page.goto(`${base}/`);
  // Chromium's XML parser: a malformed feed yields a parsererror element.
  for (const text of [allText, feed, arabicText, frenchAll]) {
    const errors = await page.evaluate(
      (xml) => new DOMParser().parseFromString(xml, 'application/xml').getElementsByTagName('parsererror').length,
      text
    );
    assert.equal(errors, 0, text.slice(0, 300));
  }
  await page.context().close();
});

test('the verify page checks a downloaded file against the signed log, in the reader\'s language', async () => {
  await until('the dossier', async () => {
    const reply = await fetch(`${base}/api/consultations/closing-consultation`);
    return reply.ok && (await reply.json()).dossier;
  }, 60000);
  const page = await newPage();
  // The closed page links the verify page of its own edition, with the consultation filled in.
  await page.goto(`${base}/fr/consultations/closing-consultation/`);
  await Promise.all([page.waitForURL(/\/fr\/verify\//), page.getByRole('link', { name: 'Vérifier un fichier téléchargé' }).click()]);
  assert.equal(await page.inputValue('#consultation'), 'closing-consultation');
  const result = page.locator('#result');

  const sent = join(data, 'response.txt');
  writeFileSync(sent, 'The same text, sent twice.');
  await page.setInputFiles('#file', sent);
  await page.click('#verify button[type=submit]');
  await until('the verdict', async () => /figure dans le journal/.test(await result.innerText()));
  const verdict = await result.innerText();
  assert.ok(verdict.includes(sha256(Buffer.from('The same text, sent twice.'))), verdict);
  assert.match(verdict, /réponse 1, response\.txt; réponse 2, response\.txt/);
  // Who vouches for it: the operator's signature and both witnesses' cosignatures, valid.
  const vouching = page.locator('#vouching');
  await until('the witnesses', async () => /quorum de la politique est atteint/.test(await vouching.innerText()));
  const vouched = await vouching.innerText();
  assert.match(vouched, /l'exploitant du journal : signature valide/);
  assert.match(vouched, /témoin one : a cosigné le .*, signature valide/);
  assert.match(vouched, /témoin two : a cosigné le .*, signature valide/);
  await screenshot(page, 'fr-verify');
  await accessible(page, 'the verify page with its verdict');

  // One byte of witness two's cosignature changed on the way: shown invalid, quorum not met.
  const note = await (await fetch(`${base}/consultations/closing-consultation/log/checkpoint`)).text();
  const prefix = '\u2014 witness.example/two ';
  const changed = note.split('\n').map((line) => {
    if (!line.startsWith(prefix)) return line;
    const signature = Buffer.from(line.slice(prefix.length), 'base64');
    signature[40] ^= 1;
    return prefix + signature.toString('base64');
  }).join('\n');
  assert.notEqual(changed, note);
  await page.route('**/closing-consultation/log/checkpoint', (route) => route.fulfill({ status: 200, body: changed }));
  await page.click('#verify button[type=submit]');
  await until('the changed cosignature', async () => /quorum de la politique n'est PAS atteint/.test(await vouching.innerText()));
  const broken = await vouching.innerText();
  assert.match(broken, /témoin one : a cosigné/);
  assert.match(broken, /témoin two : la cosignature n'est PAS valide/);
  // The log's own signature is still good, so the file's verdict stands.
  assert.match(await result.innerText(), /figure dans le journal/);
  await page.unroute('**/closing-consultation/log/checkpoint');

  // A browser whose WebCrypto has no Ed25519: the page falls back to the audited library it
  // serves, and says the same.
  const older = await newPage();
  await older.addInitScript(() => {
    const importKey = crypto.subtle.importKey.bind(crypto.subtle);
    crypto.subtle.importKey = (format, key, algorithm, ...rest) =>
      (algorithm === 'Ed25519' || algorithm?.name === 'Ed25519')
        ? Promise.reject(new DOMException('Unrecognized algorithm name', 'NotSupportedError'))
        : importKey(format, key, algorithm, ...rest);
  });
  const fetched = [];
  older.on('request', (request) => fetched.push(new URL(request.url()).pathname));
  await older.goto(`${base}/fr/verify/?consultation=closing-consultation`);
  await older.setInputFiles('#file', sent);
  await older.click('#verify button[type=submit]');
  await until('the verdict without WebCrypto Ed25519', async () =>
    /quorum de la politique est atteint/.test(await older.locator('#vouching').innerText()));
  assert.match(await older.locator('#result').innerText(), /figure dans le journal/);
  assert.ok(fetched.includes('/verify/noble-ed25519.js'), fetched.join(' '));
  await older.route('**/closing-consultation/log/checkpoint', (route) => route.fulfill({ status: 200, body: changed }));
  await older.click('#verify button[type=submit]');
  await until('the changed cosignature without WebCrypto Ed25519', async () =>
    /témoin two : la cosignature n'est PAS valide/.test(await older.locator('#vouching').innerText()));
  await older.context().close();

  // One byte more, and no published file has these bytes.
  writeFileSync(sent, 'The same text, sent twice!');
  await page.setInputFiles('#file', sent);
  await page.click('#verify button[type=submit]');
  await until('the verdict', async () => /aucun fichier du journal/.test(await result.innerText()));

  // A key other than the one that signed the checkpoint (the published key swapped on the
  // way): the page trusts nothing the log says.
  const published = (await (await fetch(`${base}/log/verifier-key`)).text()).trim();
  const cut = published.indexOf('+', published.indexOf('+') + 1) + 1; // name+hash+data
  const keyData = Buffer.from(published.slice(cut), 'base64');
  keyData[5] ^= 1;
  const swapped = published.slice(0, cut) + keyData.toString('base64');
  await page.route('**/log/verifier-key', (route) => route.fulfill({ status: 200, body: swapped + '\n' }));
  writeFileSync(sent, 'The same text, sent twice.');
  await page.setInputFiles('#file', sent);
  await page.click('#verify button[type=submit]');
  await until('the verdict', async () => /n'est pas signé par la clé/.test(await result.innerText()));
  assert.ok((await result.innerText()).includes(swapped), await result.innerText());
  await page.context().close();
});

test('search finds each response by a word only inside its file or text, from the consultation page and in every language', async () => {
  await api('POST', '/api/admin/consultations', {
    id: 'search-consultation',
    title: { en: 'Searching the responses', zh: '搜索答复', ar: 'البحث في الردود' },
    questions: [{ en: 'What should be done?' }],
    meeting_date: '2031-03-31',
  }, true);
  const fixture = (name) => readFileSync(join(import.meta.dirname, 'fixtures', name));
  // Each word appears in one response only, and only inside its file or its text.
  const responses = [
    { name: 'Pdf Sender', file: 'search.pdf', word: 'quixotic' },
    { name: 'Docx Sender', file: 'search.docx', word: 'zanzibar' },
    { name: 'Odt Sender', file: 'search.odt', word: 'marmalade' },
    { name: 'Chinese Sender', text: '互联网治理需要多方参与', word: '治理' },
    { name: 'Arabic Sender', text: 'يجب أن تبقى الشبكة مفتوحة للجميع', word: 'مفتوحة' },
  ];
  for (const r of responses) {
    const form = new FormData();
    form.append('name', r.name);
    if (r.text) form.append('text', r.text);
    if (r.file) form.append('file', new Blob([fixture(r.file)]), r.file);
    const reply = await fetch(`${base}/api/consultations/search-consultation/responses`, { method: 'POST', body: form });
    assert.equal(reply.status, 201, await reply.text());
  }
  await until('the search index', async () => {
    const reply = await fetch(`${base}/consultations/search-consultation/pagefind/covered.json`);
    return reply.ok && (await reply.json()).responses >= responses.length;
  }, 60000);
  // The extracted text is derived and says so; the PDF's words were read.
  const derived = await (await fetch(`${base}/consultations/search-consultation/extracted/1.txt`)).text();
  assert.match(derived, /Derived, not the record/);
  assert.match(derived, /quixotic/);

  const page = await newPage();
  const titles = async () => {
    await page.waitForFunction(() => document.getElementById('search-status')?.textContent.match(/\d/));
    return page.locator('#search-results h2 a').allInnerTexts();
  };
  // From the consultation page's search box.
  await page.goto(`${base}/consultations/search-consultation/`);
  await page.fill('#search-q', 'quixotic');
  await Promise.all([page.waitForURL(/\/search\/\?q=quixotic/), page.click('form.search button')]);
  assert.deepEqual(await titles(), ['1. Pdf Sender']);
  assert.match(await page.locator('#search-results').innerText(), /quixotic/);
  await accessible(page, 'the search page with results');
  await screenshot(page, 'search');
  // The result leads to the response's own page, with the derived text folded away.
  await Promise.all([page.waitForURL(/\/responses\/1\/$/), page.click('#search-results a')]);
  assert.match(await page.locator('h1').innerText(), /Pdf Sender/);
  assert.equal(await page.locator('details.extracted').getAttribute('open'), null);
  await accessible(page, 'a response page');

  // Every word, in every language's search page; links stay in that language.
  for (const lang of LANGUAGES) {
    for (const [i, r] of responses.entries()) {
      await page.goto(`${base}/${lang}/consultations/search-consultation/search/?q=${encodeURIComponent(r.word)}`);
      assert.deepEqual(await titles(), [`${i + 1}. ${r.name}`], `${r.word} in /${lang}/`);
      assert.equal(
        await page.locator('#search-results a').getAttribute('href'),
        `/${lang}/consultations/search-consultation/responses/${i + 1}/`
      );
    }
    if (lang === 'ar' || lang === 'zh') {
      await accessible(page, `the search page in ${lang}`);
      await screenshot(page, `${lang}-search`);
    }
  }
  // A word in no response.
  await page.goto(`${base}/consultations/search-consultation/search/?q=nowhere`);
  await page.waitForFunction(() => document.getElementById('search-status')?.textContent.length > 0 && !document.getElementById('search-status').textContent.endsWith('…'));
  assert.equal(await page.locator('#search-results li').count(), 0);
  await page.context().close();

  // Without JavaScript the page says that search needs it and where else to read everything.
  const noJs = await newPage({ javaScriptEnabled: false });
  await noJs.goto(`${base}/fr/consultations/search-consultation/search/?q=quixotic`);
  const text = await noJs.locator('main').innerText();
  assert.match(text, /JavaScript/);
  assert.equal(await noJs.locator('main a[href$="/responses.json"]').count(), 1);
  await accessibleWithoutJs(noJs, 'the search page without JavaScript');
  await noJs.context().close();
});

test('no page broke the Content-Security-Policy or threw a script error', () => {
  assert.deepEqual(cspViolations, []);
});
