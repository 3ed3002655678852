// The measuring side of bench/cluster-load.sh (see there). Node built-ins only.
//
//   node bench/cluster-load.js load SETUP_JSON CONVERSATIONS SECONDS
//     SETUP_JSON = {"fixture": "127.0.0.1:P", "pgUrl": "postgres://...", "pgPasswordFile": "/path",
//                   "psql": "/path/psql", "relays": [{"name", "listen", "admin"}, ...]}
//     Opens CONVERSATIONS long streams (one client each, conversation i on relay i mod count),
//     waits until every one has its response head, then counts the directory statements the
//     relays send, and PostgreSQL's committed transactions, over SECONDS.
//   node bench/cluster-load.js starts SETUP_JSON STARTS
//     SETUP_JSON = {"fixture": "127.0.0.1:P", "cluster": {"listen", "admin"}, "single": {"listen", "admin"}}
//     STARTS new-conversation requests on each relay, alternated, one at a time, each on a new
//     connection: time to the response head.
// Prints text, then `RESULT {json}`.
'use strict';
const { execFile } = require('child_process');
const fs = require('fs');
const http = require('http');
const support = require('../deploy/lib/test-support');

const [mode, setupJSON, countArg, secondsArg] = process.argv.slice(2);
const setup = JSON.parse(setupJSON);
const { sleep, sum, parseMetrics, histogramOf } = support;
const round = (value, digits = 3) => Number(value.toFixed(digits));

const getText = (hostPort, path, timeoutMs = 10000) => support.getText(hostPort, path, timeoutMs);

async function metrics(relay) {
  return parseMetrics((await getText(relay.admin, '/metrics')).body);
}

const value = (samplesList, name, labels = {}) => support.metricValue(samplesList, name, labels);

// Quantile of a Prometheus histogram from its cumulative buckets, by linear interpolation
// inside the bucket where it falls (as histogram_quantile does): an estimate, at the buckets'
// resolution (0.25, 0.5, 1, 2, 5, 10, 25 ms, ...).
function histogramQuantile(samplesList, name, labels, q) {
  return support.histogramQuantile(histogramOf(samplesList, name, labels), q);
}

function claimLatency(samplesList) {
  const name = 'sse_relay_cluster_directory_seconds';
  const labels = { statement: 'claim' };
  const count = value(samplesList, `${name}_count`, labels);
  const total = value(samplesList, `${name}_sum`, labels);
  return {
    claims: count,
    meanMs: round((total / count) * 1000),
    p50Ms: round(histogramQuantile(samplesList, name, labels, 0.5) * 1000),
    p99Ms: round(histogramQuantile(samplesList, name, labels, 0.99) * 1000),
  };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function sql(statement) {
  const password = fs.readFileSync(setup.pgPasswordFile, 'utf8').trim();
  return new Promise((resolve, reject) => {
    execFile(setup.psql, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', statement, setup.pgUrl],
      { timeout: 10000, env: { ...process.env, PGPASSWORD: password } }, (error, stdout, stderr) => {
        if (error) reject(new Error(`psql: ${error.message} ${stderr}`));
        else resolve(stdout.trim());
      });
  });
}

// ---- load ---------------------------------------------------------------------------------

async function load(count, seconds) {
  const relays = setup.relays;
  const clients = [];
  const opened = Date.now();
  // At most 100 requests waiting for their head at once: the relays claim in bursts anyway.
  let next = 0;
  async function opener() {
    while (next < count) {
      const i = next++;
      const relay = relays[i % relays.length];
      const [host, port] = relay.listen.split(':');
      await new Promise((resolve) => {
        const client = { i, relay: relay.name, status: null, ended: false, bytes: 0 };
        clients.push(client);
        const req = http.get({ host, port: Number(port), agent: false,
          path: `/api/conversation/load-${i}/stream?events=1000000&interval=1000`,
          headers: { Accept: 'text/event-stream' } }, (res) => {
          client.status = res.statusCode;
          client.mode = res.headers['x-sse-relay'];
          res.on('data', (chunk) => { client.bytes += chunk.length; });
          res.on('end', () => { client.ended = true; });
          res.on('error', () => { client.ended = true; });
          resolve();
        });
        req.on('error', (error) => { client.error = error.message; client.ended = true; resolve(); });
        client.req = req;
      });
    }
  }
  await Promise.all(Array.from({ length: 100 }, opener));
  const openMs = Date.now() - opened;
  const bad = clients.filter((c) => c.status !== 200 || c.mode !== 'started' || c.ended);
  if (bad.length > 0) {
    throw new Error(`${bad.length} of ${count} streams did not start: e.g. ${JSON.stringify(bad.slice(0, 3).map(
      ({ i, relay, status, mode: m, error }) => ({ i, relay, status, mode: m, error })))}`);
  }
  console.log(`${count} conversations open on ${relays.length} clustered relays in ${openMs} ms ` +
    `(every one started: X-SSE-Relay started, 200)`);
  const burst = await Promise.all(relays.map(metrics));
  const burstClaims = claimLatency(burst);
  console.log(`opening burst: ${burstClaims.claims} claims, latency mean ${burstClaims.meanMs} ms (exact, from ` +
    `_sum/_count), p50 ${burstClaims.p50Ms} ms, p99 ${burstClaims.p99Ms} ms (estimated from the buckets)`);
  // Two windows of SECONDS each. The first starts 12 s after the last stream opened: the
  // claims' first renewal is done, and PostgreSQL has the opening burst's statistics (a backend
  // reports its transactions at most once a second, an idle one after 10 s). The second starts
  // 65 s after: by then postgres-nio closed the connections the burst opened beyond the pool's
  // minimum (connectionIdleTimeout 60 s), whose keep-alive queries (SELECT 1 every 30 s on an
  // idle connection) PostgreSQL counts as transactions but the relays do not count as
  // statements.
  const xact = async () => Number(await sql("SELECT xact_commit FROM pg_stat_database WHERE datname = 'relay'"));
  const backends = async () => Number(await sql("SELECT count(*) - 1 FROM pg_stat_activity " +
    "WHERE datname = 'relay' AND backend_type = 'client backend'"));
  const measure = async (label) => {
    const before = await Promise.all(relays.map(metrics));
    const connections = await backends();
    const xactBefore = await xact();
    const t0 = Date.now();
    await sleep(seconds * 1000);
    const after = await Promise.all(relays.map(metrics));
    const xactAfter = await xact();
    const window = (Date.now() - t0) / 1000;
    const still = clients.filter((c) => !c.ended).length;
    const statements = {};
    for (const statement of ['claim', 'renew', 'release']) {
      const labels = { statement };
      statements[statement] = value(after, 'sse_relay_cluster_directory_statements_total', labels) -
        value(before, 'sse_relay_cluster_directory_statements_total', labels);
    }
    const renewed = value(after, 'sse_relay_cluster_lease_renewals_total') -
      value(before, 'sse_relay_cluster_lease_renewals_total');
    const totalStatements = sum(Object.values(statements));
    // The first xact_commit query's own transaction is in the difference: take it out.
    const commits = xactAfter - xactBefore - 1;
    const perThousand = (x) => round((x / window) * (1000 / still), 4);
    const result = {
      window: label, openConversations: still, leasesHeld: value(after, 'sse_relay_cluster_leases'),
      databaseConnections: connections, seconds: round(window, 2), statements,
      statementsPerSecond: round(totalStatements / window, 4),
      statementsPerSecondPer1000Conversations: perThousand(totalStatements),
      leaseRenewals: renewed, leaseRenewalsPerSecond: round(renewed / window, 1),
      pgCommits: commits, pgCommitsPerSecond: round(commits / window, 4),
      pgCommitsPerSecondPer1000Conversations: perThousand(commits),
    };
    console.log(`${label}: ${result.seconds} s with ${still} conversations open (${result.leasesHeld} leases held, ` +
      `${connections} relay connections to PostgreSQL): ${totalStatements} directory statements (claim ` +
      `${statements.claim}, renew ${statements.renew}, release ${statements.release}) = ` +
      `${result.statementsPerSecond}/s ` +
      `= ${result.statementsPerSecondPer1000Conversations}/s per 1,000 active conversations; ${renewed} leases ` +
      `renewed (${result.leaseRenewalsPerSecond}/s); PostgreSQL xact_commit +${commits} = ` +
      `${result.pgCommitsPerSecond}/s = ${result.pgCommitsPerSecondPer1000Conversations}/s per 1,000`);
    return result;
  };
  await sleep(12000);
  const first = await measure('window 1 (12 s after the opening burst)');
  await sleep(Math.max(0, 65000 - (12000 + seconds * 1000)));
  const second = await measure('window 2 (65 s after: the pool back to its minimum)');
  const result = { conversations: count, relays: relays.length, openMs, openingBurstClaims: burstClaims,
    windows: [first, second] };
  console.log(`RESULT ${JSON.stringify(result)}`);
  for (const client of clients) client.req.destroy();
}

// ---- starts -------------------------------------------------------------------------------

function timeToHead(relay, conversation) {
  const [host, port] = relay.listen.split(':');
  return new Promise((resolve, reject) => {
    const began = process.hrtime.bigint();
    const req = http.get({ host, port: Number(port), agent: false,
      path: `/api/conversation/${conversation}/stream?events=1&interval=1`,
      headers: { Accept: 'text/event-stream' } }, (res) => {
      const ms = Number(process.hrtime.bigint() - began) / 1e6;
      const relayMode = res.headers['x-sse-relay'];
      res.resume();
      res.on('end', () => resolve({ ms, status: res.statusCode, mode: relayMode }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function starts(count) {
  const modes = { cluster: setup.cluster, single: setup.single };
  const times = { cluster: [], single: [] };
  // Warm-up: the relays' first connections (upstream pool, the database pool) are not counted.
  for (let i = 0; i < 10; i++) {
    for (const name of Object.keys(modes)) await timeToHead(modes[name], `warm-${name}-${i}`);
  }
  const warm = await metrics(setup.cluster);
  for (let i = 0; i < count; i++) {
    // Alternated, the order flipped each round, so drift and turn order hit both alike.
    const order = i % 2 === 0 ? ['cluster', 'single'] : ['single', 'cluster'];
    for (const name of order) {
      const answer = await timeToHead(modes[name], `tth-${name}-${i}`);
      if (answer.status !== 200 || answer.mode !== 'started') {
        throw new Error(`${name} start ${i}: ${answer.status} ${answer.mode}`);
      }
      times[name].push(answer.ms);
    }
  }
  const after = await metrics(setup.cluster);
  const stats = (list) => {
    const sorted = list.slice().sort((a, b) => a - b);
    return { starts: sorted.length, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)),
      mean: round(sum(sorted) / sorted.length), max: round(sorted[sorted.length - 1]) };
  };
  const cluster = stats(times.cluster);
  const single = stats(times.single);
  // The claims of the measured starts only: the histogram after, less the one after warm-up.
  const claims = claimLatency([after]);
  const warmClaims = claimLatency([warm]);
  const measuredCount = claims.claims - warmClaims.claims;
  const measuredSum = value([after], 'sse_relay_cluster_directory_seconds_sum', { statement: 'claim' }) -
    value([warm], 'sse_relay_cluster_directory_seconds_sum', { statement: 'claim' });
  const result = {
    cluster, single,
    addedP50Ms: round(cluster.p50 - single.p50), addedP99Ms: round(cluster.p99 - single.p99),
    addedMeanMs: round(cluster.mean - single.mean),
    claimLatency: { claims: measuredCount, meanMs: round((measuredSum / measuredCount) * 1000),
      p50MsOfAllClaims: claims.p50Ms, p99MsOfAllClaims: claims.p99Ms },
  };
  console.log(`time to response head, ${count} sequential new-conversation starts on each relay (ms):`);
  console.log(`  clustered relay:   p50 ${cluster.p50}  p99 ${cluster.p99}  mean ${cluster.mean}  max ${cluster.max}`);
  console.log(`  single-node relay: p50 ${single.p50}  p99 ${single.p99}  mean ${single.mean}  max ${single.max}`);
  console.log(`  a claim adds: p50 ${result.addedP50Ms} ms, p99 ${result.addedP99Ms} ms, ` +
    `mean ${result.addedMeanMs} ms`);
  console.log(`  the clustered relay's claims: ${measuredCount} measured, mean ${result.claimLatency.meanMs} ms ` +
    `(exact, _sum/_count); all its claims incl. warm-up: p50 ${claims.p50Ms} ms, p99 ${claims.p99Ms} ms ` +
    `(estimated from the buckets)`);
  console.log(`RESULT ${JSON.stringify(result)}`);
}

const run = mode === 'load' ? load(Number(countArg), Number(secondsArg)) : starts(Number(countArg));
run.then(() => process.exit(0), (error) => {
  console.error(`cluster-load: ${error.message}`);
  process.exit(1);
});
