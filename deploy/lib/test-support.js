// Helpers shared by the Node drivers of the integration tests and the cluster bench:
// deploy/test-scale-out-clients.js, deploy/test-cluster-clients.js and bench/cluster-load.js.
// Node built-ins only. `const support = require('../deploy/lib/test-support');` (path relative
// to the requiring file).
//
// Exports:
//   sleep(ms)                       a promise resolved after `ms` milliseconds.
//   sum(values)                     the sum of an array of numbers (0 for an empty one).
//   percentile(sorted, p)           the p-th percentile (0-100) of an ascending array, by rank
//                                   (no interpolation); NaN for an empty array.
//   reporter(started, failures)     {elapsed, log, check} for a test run that began at `started`
//                                   (Date.now()): elapsed() is "12.3s" since then; log(...args)
//                                   prints them after "[12.3s]"; check(ok, message) returns ok
//                                   and, when it is false, pushes message onto `failures` and
//                                   prints "FAIL: message".
//   poll(what, probe, {tries, everyMs})
//                                   calls `probe` (sync or async) every `everyMs` ms (default
//                                   100) until it returns a truthy value, which it resolves to,
//                                   at most `tries` times (default 100); then rejects with
//                                   "timed out after N s waiting for <what>".
//   getText(hostPort, path, timeoutMs = 3000)
//                                   GET http://hostPort/path on a fresh connection (no agent):
//                                   {status, headers, body}; rejects on a connection error, or
//                                   with "GET <path>: timeout" when the socket is idle for
//                                   timeoutMs.
//   getJSON(hostPort, path)         getText, then the body parsed as JSON; rejects unless 200.
//   fixtureStarts(fixture, conversation)
//                                   how many upstream starts the Node fixture backend at
//                                   `fixture` (host:port) counted for a conversation.
//   startsOf(fixture, conversations)
//                                   {conversation: starts} for several, asked concurrently.
//   parseMetrics(text)              a Prometheus text exposition as [{name, labels, value}].
//   metricValue(samples, name, labels = {})
//                                   the sum of the samples called `name` whose labels include
//                                   `labels`; `samples` is one parseMetrics result or an array
//                                   of them (several relays).
//   histogramOf(samplesList, name, labels)
//                                   a histogram's cumulative buckets [{le, count}] (le Infinity
//                                   for +Inf) from `${name}_bucket` samples with `labels`,
//                                   summed over an array of parseMetrics results.
//   histogramQuantile(buckets, q)   the q-quantile (0-1) of such buckets, by linear interpolation
//                                   inside the bucket where it falls (as Prometheus'
//                                   histogram_quantile does); NaN with no observations,
//                                   Infinity above the largest finite bucket.
'use strict';
const http = require('http');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sum = (values) => values.reduce((a, b) => a + b, 0);

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function reporter(started, failures) {
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  const log = (...args) => console.log(`[${elapsed()}]`, ...args);
  function check(ok, message) {
    if (!ok) {
      failures.push(message);
      console.log(`FAIL: ${message}`);
    }
    return ok;
  }
  return { elapsed, log, check };
}

async function poll(what, probe, { tries = 100, everyMs = 100 } = {}) {
  for (let i = 0; i < tries; i++) {
    const value = await probe();
    if (value) return value;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${(tries * everyMs) / 1000} s waiting for ${what}`);
}

function getText(hostPort, urlPath, timeoutMs = 3000) {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port: Number(port), path: urlPath, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath}: timeout`)));
    req.on('error', reject);
  });
}

async function getJSON(hostPort, urlPath) {
  const { status, body } = await getText(hostPort, urlPath);
  if (status !== 200) throw new Error(`GET http://${hostPort}${urlPath}: ${status}`);
  return JSON.parse(body);
}

async function fixtureStarts(fixture, conversation) {
  return (await getJSON(fixture, `/api/conversation/${encodeURIComponent(conversation)}/stats`)).starts;
}

async function startsOf(fixture, conversations) {
  const entries = await Promise.all(conversations.map(async (c) => [c, await fixtureStarts(fixture, c)]));
  return Object.fromEntries(entries);
}

function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const match = line.match(/^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/);
    if (!match) continue;
    const labels = {};
    for (const label of (match[2] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[label[1]] = label[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

function metricValue(samples, name, labels = {}) {
  return sum(samples.flat().filter((s) => s.name === name &&
    Object.entries(labels).every(([k, v]) => s.labels[k] === v)).map((s) => s.value));
}

function histogramOf(samplesList, name, labels) {
  const byLe = new Map();
  for (const samples of samplesList) {
    for (const s of samples) {
      if (s.name !== `${name}_bucket`) continue;
      if (!Object.entries(labels).every(([k, v]) => s.labels[k] === v)) continue;
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      byLe.set(le, (byLe.get(le) || 0) + s.value);
    }
  }
  return [...byLe.entries()].map(([le, count]) => ({ le, count }));
}

function histogramQuantile(buckets, q) {
  const finite = buckets.filter((b) => Number.isFinite(b.le)).sort((a, b) => a.le - b.le);
  const total = buckets.find((b) => !Number.isFinite(b.le));
  const count = total ? total.count : (finite.length ? finite[finite.length - 1].count : 0);
  if (count === 0) return NaN;
  const rank = q * count;
  let lower = 0;
  let below = 0;
  for (const bucket of finite) {
    if (bucket.count >= rank) {
      const inBucket = bucket.count - below;
      return inBucket > 0 ? lower + ((bucket.le - lower) * (rank - below)) / inBucket : bucket.le;
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return Infinity; // above the largest finite bucket
}

module.exports = {
  sleep, sum, percentile, reporter, poll, getText, getJSON, fixtureStarts, startsOf,
  parseMetrics, metricValue, histogramOf, histogramQuantile,
};
