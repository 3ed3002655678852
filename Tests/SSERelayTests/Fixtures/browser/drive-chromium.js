// Opens one page in headless Chromium and prints what the page reports. Node built-ins only.
//
//   node drive-chromium.js CHROMIUM URL [TIMEOUT_MS]
//
// Starts CHROMIUM headless on a fresh temporary profile and speaks the DevTools protocol with
// it over --remote-debugging-pipe (no port: commands go to the browser's fd 3, answers and
// events come from its fd 4, each message a JSON text ending in a NUL byte). It opens a page,
// navigates to URL, waits for the load event, then awaits the page's `window.sseDone` promise
// and prints the value it resolves to as one JSON line on stdout. Then it closes the browser
// (Browser.close; SIGKILL to the browser's process group if it has not exited 5 s later) and
// removes the profile.
//
// Exit status 0 after printing the report; 1 with a message on stderr when the page throws,
// the browser dies, or TIMEOUT_MS (default 30000) passes first. On SIGTERM, or when stdin
// closes (the test process is gone; not with FIXTURE_STANDALONE=1), it kills the browser and
// exits at once.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [chromium, url, timeoutArgument] = process.argv.slice(2);
if (!chromium || !url) {
  process.stderr.write('usage: node drive-chromium.js CHROMIUM URL [TIMEOUT_MS]\n');
  process.exit(64);
}
const timeout = Number(timeoutArgument || 30000);

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-relay-chromium-'));
const browser = spawn(
  chromium,
  [
    // Root in a container: no sandbox. No GPU, no first-run UI, no background traffic.
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
    `--user-data-dir=${profile}`, '--remote-debugging-pipe',
    '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-sync',
    '--disable-background-networking', '--disable-component-update', '--mute-audio',
    '--password-store=basic', 'about:blank',
  ],
  // Its own process group, so the whole browser (zygote, renderers) can be ended at once.
  { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true },
);
// The browser's own log (D-Bus complaints and the like), kept short for error messages.
let browserLog = '';
browser.stderr.on('data', (chunk) => { browserLog = (browserLog + chunk).slice(-4000); });
let browserExited = false;
const exited = new Promise((resolve) => browser.on('exit', () => { browserExited = true; resolve(); }));

let stage = 'starting the browser';
let finished = false;

function killBrowser() {
  if (browserExited) return;
  try { process.kill(-browser.pid, 'SIGKILL'); } catch { /* already gone */ }
}

async function finish(status, output) {
  if (finished) return;
  finished = true;
  clearTimeout(deadline);
  if (!browserExited) {
    send('Browser.close').catch(() => {});
    const grace = setTimeout(killBrowser, 5000);
    await exited;
    clearTimeout(grace);
  }
  fs.rmSync(profile, { recursive: true, force: true });
  if (status === 0) {
    process.stdout.write(output + '\n', () => process.exit(0));
  } else {
    process.stderr.write(`drive-chromium: ${output}\n`, () => process.exit(status));
  }
}

const deadline = setTimeout(
  () => finish(1, `timed out after ${timeout} ms while ${stage}; browser log:\n${browserLog}`), timeout);
function abandon() {
  killBrowser();
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(1);
}
process.on('SIGTERM', abandon);
// The test process holds our stdin: if it dies, the browser goes with us. Like backend.js,
// FIXTURE_STANDALONE=1 turns this off for runs by hand.
if (process.env.FIXTURE_STANDALONE !== '1') {
  process.stdin.on('end', abandon);
  process.stdin.resume();
}
browser.on('error', (error) => finish(1, `cannot start ${chromium}: ${error.message}`));
browser.on('exit', (code, signal) => {
  finish(1, `the browser exited (${signal || code}) while ${stage}; browser log:\n${browserLog}`);
});

// The DevTools protocol over the pipe.
const commands = browser.stdio[3];
const answers = browser.stdio[4];
commands.on('error', () => {});
let nextId = 1;
const pending = new Map();
const waiters = [];
let unread = Buffer.alloc(0);

function send(method, params = {}, sessionId) {
  const id = nextId++;
  const message = { id, method, params };
  if (sessionId) message.sessionId = sessionId;
  commands.write(JSON.stringify(message) + '\0');
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject, method }));
}

function waitForEvent(method, sessionId) {
  return new Promise((resolve) => waiters.push({ method, sessionId, resolve }));
}

answers.on('data', (chunk) => {
  unread = Buffer.concat([unread, chunk]);
  let end;
  while ((end = unread.indexOf(0)) >= 0) {
    const message = JSON.parse(unread.subarray(0, end).toString('utf8'));
    unread = unread.subarray(end + 1);
    if (message.id !== undefined) {
      const call = pending.get(message.id);
      pending.delete(message.id);
      if (!call) continue;
      if (message.error) call.reject(new Error(`${call.method}: ${message.error.message}`));
      else call.resolve(message.result);
    } else {
      const index = waiters.findIndex((w) => w.method === message.method && w.sessionId === message.sessionId);
      if (index >= 0) waiters.splice(index, 1)[0].resolve(message.params);
    }
  }
});

async function main() {
  stage = 'opening a page';
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  await send('Page.enable', {}, sessionId);
  stage = `loading ${url}`;
  const loaded = waitForEvent('Page.loadEventFired', sessionId);
  const navigation = await send('Page.navigate', { url }, sessionId);
  if (navigation.errorText) throw new Error(`cannot load ${url}: ${navigation.errorText}`);
  await loaded;
  stage = 'waiting for window.sseDone';
  const evaluation = await send(
    'Runtime.evaluate', { expression: 'window.sseDone', awaitPromise: true, returnByValue: true }, sessionId);
  if (evaluation.exceptionDetails) {
    throw new Error(`the page threw: ${JSON.stringify(evaluation.exceptionDetails)}`);
  }
  return JSON.stringify(evaluation.result.value);
}

main().then((report) => finish(0, report), (error) => finish(1, `${error.message} (while ${stage})`));
