// SSE load generator for bench/compare.sh. Node built-ins only. Loopback only.
//
//   node bench/sseload.js [options]
//     --url URL            stream URL; `{conv}` is replaced by the conversation id (required)
//     --clients N          SSE clients (default 1000)
//     --conversations M    `shared` (one conversation for all), `distinct` (one per client;
//                          default shared)
//     --prefix P           conversation id prefix (default a random one)
//     --workers W          processes sharing the clients, so the generator is not the one
//                          busy core (default 2)
//     --connect-concurrency C   at most C TCP connects pending per process (default 128), so
//                          a burst of thousands never overflows a listen backlog
//     --hold-ms MS         close every connection MS ms after the last one got its response
//                          headers (for endless streams: `hold=1` or a large `events`), and
//                          report; without it, wait until every stream ends on its own
//     --ready-file PATH    written once every client has its response headers (the idle
//                          scenario's moment to measure the proxy's memory)
//     --timeout-s S        give up after S seconds (default 120): every run is bounded
//
// Each client counts the `data: token K of <id> t=<ms>` events of the backend fixture
// (Tests/SSERelayTests/Fixtures/backend.js with ?stamp=1): events, duplicates (K not above
// the last K seen), gaps (K skipped, from K = 1), of which skippedBeforeFirst (the K before a
// client's first event: a shared stream that does not replay to late joiners shows them
// there, not as holes in the middle), and the delivery latency = receive time minus the
// stamp. Latency is only recorded for events stamped after EVERY client connected (a
// barrier across the processes), so events a collapsing proxy replays to late joiners, and
// the ramp-up itself, do not count; the other counts cover every event. The stamp is a whole
// millisecond taken when the backend writes the event, the receive time is sub-millisecond,
// so each latency reads 0-1 ms high (0.5 ms on average), the same for every proxy.
//
// Prints one JSON line when every stream has ended (or the timeout hit). connectSeconds runs
// from the generator's start (its worker processes' start-up included), rampSeconds from the
// first connect attempt, both to the moment the last client had its response headers.
'use strict';
const http = require('http');
const { fork } = require('child_process');
const { performance } = require('perf_hooks');

function parseArgs(argv) {
  const options = {
    clients: 1000, conversations: 'shared', prefix: `c${Date.now().toString(36)}`, workers: 2,
    connectConcurrency: 128, holdMs: null, readyFile: null, timeoutS: 120, url: null,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    switch (key) {
      case '--url': options.url = value; break;
      case '--clients': options.clients = Number(value); break;
      case '--conversations': options.conversations = value; break;
      case '--prefix': options.prefix = value; break;
      case '--workers': options.workers = Number(value); break;
      case '--connect-concurrency': options.connectConcurrency = Number(value); break;
      case '--hold-ms': options.holdMs = Number(value); break;
      case '--ready-file': options.readyFile = value; break;
      case '--timeout-s': options.timeoutS = Number(value); break;
      default: throw new Error(`unknown option ${key}`);
    }
  }
  if (!options.url) throw new Error('--url is required');
  if (!['shared', 'distinct'].includes(options.conversations)) throw new Error('--conversations shared|distinct');
  return options;
}

// Latency histogram in 0.1 ms bins up to 120 s (beyond: the last bin).
const BINS = 1_200_000;
const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------
// Worker: runs its share of the clients, reports to the parent over IPC.
function runWorker() {
  const options = JSON.parse(process.env.SSELOAD_OPTIONS);
  const index = Number(process.env.SSELOAD_INDEX);
  const mine = [];
  for (let i = index; i < options.clients; i += options.workers) mine.push(i);
  const histogram = new Uint32Array(BINS);
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  let measureFrom = Infinity;
  const totals = {
    clients: mine.length, connected: 0, failed: 0, errors: {}, events: 0, measured: 0,
    duplicates: 0, gaps: 0, skippedBeforeFirst: 0, statusNot200: 0, clientEvents: [],
  };
  let firstAttemptAt = null;
  let pending = 0;
  let next = 0;
  let settled = 0; // clients whose connect attempt finished (headers or failure)
  let ended = 0;
  const requests = [];
  let reportedConnected = false;

  function fail(reason) {
    totals.failed++;
    totals.errors[reason] = (totals.errors[reason] || 0) + 1;
  }

  function maybeConnected() {
    if (!reportedConnected && settled === mine.length) {
      reportedConnected = true;
      process.send({ type: 'connected', at: now(), firstAttemptAt });
    }
  }

  function maybeEnded() {
    if (ended === mine.length) finish();
  }

  function finish() {
    const bins = [];
    for (let i = 0; i < BINS; i++) if (histogram[i]) bins.push(i, histogram[i]);
    process.send({ type: 'done', totals, bins }, () => process.exit(0));
  }

  function startClient(i) {
    const conversation = options.conversations === 'shared' ? options.prefix : `${options.prefix}-${i}`;
    const url = options.url.replace('{conv}', encodeURIComponent(conversation));
    let lastK = 0;
    let count = 0;
    let headers = false;
    let closed = false;
    let connecting = true;
    pending++;
    const connectDone = () => { if (connecting) { connecting = false; pending--; connectMore(); } };
    const close = (reason) => {
      if (closed) return;
      closed = true;
      connectDone();
      if (!headers) { settled++; fail(reason); maybeConnected(); }
      totals.clientEvents.push(count);
      ended++;
      maybeEnded();
    };
    const req = http.get(url, { agent, headers: { Accept: 'text/event-stream' } }, (res) => {
      headers = true;
      connectDone();
      settled++;
      if (res.statusCode === 200) totals.connected++; else { totals.statusNot200++; fail(`status ${res.statusCode}`); }
      maybeConnected();
      res.setEncoding('latin1');
      let buffer = '';
      res.on('data', (chunk) => {
        const at = now();
        buffer = buffer.length ? buffer + chunk : chunk;
        let start = 0;
        let index;
        while ((index = buffer.indexOf('\n', start)) >= 0) {
          // `data: token K of <id> t=<ms>`
          if (buffer.startsWith('data: token ', start)) {
            const kEnd = buffer.indexOf(' ', start + 12);
            const k = Number(buffer.slice(start + 12, kEnd));
            count++;
            totals.events++;
            if (lastK === 0 && k > 1) totals.skippedBeforeFirst += k - 1;
            if (k <= lastK) totals.duplicates++;
            else { if (k > lastK + 1) totals.gaps += k - lastK - 1; lastK = k; }
            const t = buffer.lastIndexOf(' t=', index);
            if (t > start) {
              let tEnd = buffer.indexOf(' ', t + 3);
              if (tEnd < 0 || tEnd > index) tEnd = index;
              const stamp = Number(buffer.slice(t + 3, tEnd));
              if (stamp >= measureFrom) {
                const bin = Math.min(BINS - 1, Math.max(0, Math.floor((at - stamp) * 10)));
                histogram[bin]++;
                totals.measured++;
              }
            }
          }
          start = index + 1;
        }
        buffer = start < buffer.length ? buffer.slice(start) : '';
      });
      res.on('end', () => close('ended before headers'));
      res.on('error', (e) => close(e.code || 'response error'));
      res.on('close', () => close('closed before headers'));
    });
    req.on('error', (e) => close(e.code || 'request error'));
    req.on('socket', (socket) => socket.once('connect', connectDone));
    requests.push(req);
  }

  function connectMore() {
    if (firstAttemptAt === null) firstAttemptAt = now();
    while (pending < options.connectConcurrency && next < mine.length) startClient(mine[next++]);
  }

  // The parent is gone (killed by compare.sh's clean-up): so are we.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message) => {
    if (message.type === 'measureFrom') measureFrom = message.at;
    if (message.type === 'close') for (const req of requests) req.destroy();
    if (message.type === 'finish') finish();
  });
  if (mine.length === 0) { process.send({ type: 'connected', at: now(), firstAttemptAt: null }); finish(); return; }
  connectMore();
}

// ---------------------------------------------------------------------------------------
// Parent: forks the workers, runs the barrier, merges the results.
function runParent() {
  const options = parseArgs(process.argv.slice(2));
  const startedAt = now();
  const workers = [];
  const histogram = new Uint32Array(BINS);
  const merged = {
    clients: options.clients, connected: 0, failed: 0, errors: {}, events: 0, measured: 0,
    duplicates: 0, gaps: 0, skippedBeforeFirst: 0, statusNot200: 0,
  };
  const clientEvents = [];
  let connectedCount = 0;
  let doneCount = 0;
  let connectSeconds = null;
  let rampSeconds = null;
  let firstAttemptAt = Infinity;
  let timedOut = false;

  // A worker whose streams all ended on their own may be gone before the others connect.
  const tell = (worker, message) => { if (worker.connected) worker.send(message); };
  const timeout = setTimeout(() => {
    timedOut = true;
    for (const w of workers) { tell(w, { type: 'close' }); tell(w, { type: 'finish' }); }
    setTimeout(() => { for (const w of workers) w.kill('SIGKILL'); process.exit(2); }, 10_000).unref();
  }, options.timeoutS * 1000);

  for (let i = 0; i < options.workers; i++) {
    const worker = fork(__filename, [], {
      env: { ...process.env, SSELOAD_ROLE: 'worker', SSELOAD_INDEX: String(i), SSELOAD_OPTIONS: JSON.stringify(options) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    workers.push(worker);
    worker.on('message', (message) => {
      if (message.type === 'connected') {
        connectedCount++;
        if (message.firstAttemptAt !== null) firstAttemptAt = Math.min(firstAttemptAt, message.firstAttemptAt);
        if (connectedCount === options.workers) {
          const at = now();
          connectSeconds = (at - startedAt) / 1000;
          if (firstAttemptAt !== Infinity) rampSeconds = (at - firstAttemptAt) / 1000;
          // Whole milliseconds, like the stamps: an event stamped in this millisecond or later counts.
          for (const w of workers) tell(w, { type: 'measureFrom', at: Math.ceil(at) });
          if (options.readyFile) require('fs').writeFileSync(options.readyFile, `${Date.now()}\n`);
          if (options.holdMs !== null) {
            setTimeout(() => { for (const w of workers) tell(w, { type: 'close' }); }, options.holdMs);
          }
        }
      } else if (message.type === 'done') {
        const t = message.totals;
        for (const key of ['connected', 'failed', 'events', 'measured', 'duplicates', 'gaps', 'skippedBeforeFirst', 'statusNot200']) merged[key] += t[key];
        for (const [reason, n] of Object.entries(t.errors)) merged.errors[reason] = (merged.errors[reason] || 0) + n;
        for (const n of t.clientEvents) clientEvents.push(n);
        for (let j = 0; j < message.bins.length; j += 2) histogram[message.bins[j]] += message.bins[j + 1];
        doneCount++;
        if (doneCount === options.workers) report();
      }
    });
  }

  function percentile(p) {
    if (merged.measured === 0) return null;
    const rank = Math.ceil((merged.measured * p) / 100);
    let seen = 0;
    for (let i = 0; i < BINS; i++) {
      seen += histogram[i];
      if (seen >= rank) return (i + 1) / 10; // upper edge of the 0.1 ms bin
    }
    return null;
  }

  function report() {
    clearTimeout(timeout);
    clientEvents.sort((a, b) => a - b);
    const result = {
      ...merged,
      timedOut,
      eventsPerClient: { min: clientEvents[0] ?? null, max: clientEvents[clientEvents.length - 1] ?? null },
      latencyMs: { p50: percentile(50), p90: percentile(90), p99: percentile(99), p999: percentile(99.9), max: percentile(100) },
      connectSeconds,
      rampSeconds,
      wallSeconds: (now() - startedAt) / 1000,
    };
    console.log(JSON.stringify(result));
    process.exit(0);
  }
}

if (process.env.SSELOAD_ROLE === 'worker') runWorker(); else runParent();
