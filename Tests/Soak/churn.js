// Connect-and-drop churn load for Tests/Soak/churn.sh. Node built-ins only.
// Loopback only: every connection goes to 127.0.0.1.
//
//   node Tests/Soak/churn.js --port P [options]
//     --port P                  the relay's proxy port (required)
//     --duration S              seconds during which new clients are started (default 30)
//     --clients N               clients alive at once, at most (default 5000)
//     --connect-concurrency C   clients the relay may not have accepted yet, at most
//                               (default 256): connecting, or connected and not answered
//                               (see `unanswered`), so the relay's listen backlog never
//                               overflows and the load follows the relay's pace
//     --conversations M         shared stream conversations P-0 … P-(M-1) (default 50)
//     --prefix P                conversation id prefix (default soak)
//     --query Q                 the stream query (default events=1000000&interval=1000&hold=1:
//                               a slow endless stream, so every conversation stays one open
//                               generation for the whole run, and the replay a joining client
//                               gets stays small: the load is connections, not events)
//     --dwell-ms D              after its trigger (response head, first event, whole hello
//                               body), a client waits a random 0–D ms before it drops
//                               (default 10000), so thousands are alive at once
//     --quiet-dwell-ms D        the same for the clients that send nothing or half a
//                               request (default 5000: below the relay's 10 s
//                               limits.headerReadTimeoutSeconds, so no 408 is due)
//     --client-timeout-ms T     a client not done T ms after it started is destroyed and
//                               counted in `timeouts` (default 30000: the longest dwell plus
//                               20 s for a relay on a busy machine)
//     --grace-s G               after the duration, how long the clients still alive may take
//                               to finish (default 45); then the run stops and reports
//                               `incomplete: true`
//
// Each client opens a raw `net` socket (not the http module, so the test decides exactly
// when and how it drops) and plays one behaviour, chosen round-robin from BEHAVIOURS below:
// stream requests on the shared conversations dropped after the response head or the first
// event, with a FIN (`end()`) or an RST (`resetAndDestroy()`), or reset right behind the
// request, before any answer can arrive; resumes with a Last-Event-ID seen by an earlier
// client (or a stale one, which the relay treats as a replay miss); a request cut in the
// middle of its request line or of its header block; a pass-through `GET /hello` read to its
// end; a connection that sends nothing.
//
// After a FIN a client waits for the relay to close its side too (bounded by the client
// timeout): a relay that never closes a half-closed connection shows up as `timeouts`.
//
// Prints one JSON line at the end: clients started and finished, peak clients alive, the
// cycle rate, and every outcome: responses by status, stream modes (X-SSE-Relay), FINs and
// RSTs sent, errors by code, per-behaviour counts, unexpected answers.
// CHURN_DEBUG=1 in the environment: for each client that times out (the first 20), its socket
// as `ss` shows it (both ends) goes to stderr, while the connection still exists.
// Exit status: 0 when the run completed (whatever the outcomes: churn.sh judges them),
// 2 when clients were still alive after the grace period, 1 on a usage error.
'use strict';
const net = require('net');
const { performance } = require('perf_hooks');

function parseArgs(argv) {
  const options = {
    port: null, duration: 30, clients: 5000, connectConcurrency: 256, conversations: 50,
    prefix: 'soak', query: 'events=1000000&interval=1000&hold=1', dwellMs: 10000, quietDwellMs: 5000,
    clientTimeoutMs: 30000, graceS: 45,
  };
  const numeric = {
    '--port': 'port', '--duration': 'duration', '--clients': 'clients',
    '--connect-concurrency': 'connectConcurrency', '--conversations': 'conversations',
    '--dwell-ms': 'dwellMs', '--quiet-dwell-ms': 'quietDwellMs', '--client-timeout-ms': 'clientTimeoutMs', '--grace-s': 'graceS',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${key} needs a value`);
    if (key in numeric) {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${key}: not a number: ${value}`);
      options[numeric[key]] = n;
    } else if (key === '--prefix') {
      options.prefix = value;
    } else if (key === '--query') {
      options.query = value;
    } else {
      throw new Error(`unknown option ${key}`);
    }
  }
  if (!options.port) throw new Error('--port is required');
  if (options.clients < 1 || options.connectConcurrency < 1 || options.conversations < 1) {
    throw new Error('--clients, --connect-concurrency and --conversations must be at least 1');
  }
  return options;
}

let options;
try {
  options = parseArgs(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`churn.js: ${error.message}\n`);
  process.exit(1);
}

// The behaviours, in round-robin order. `request`: what is sent (stream, resume, stale, hello,
// or nothing); `trigger`: when the drop is scheduled (head, event, sent: after the (partial)
// request is written, connect); `cut`: how much of the request is sent (line: half the request
// line, head: half the whole request); `drop`: fin or rst; `dwellMs`: a fixed dwell (0: the
// RST goes out right behind the request, racing the relay's answer).
const BEHAVIOURS = [
  { name: 'stream-head-fin', request: 'stream', trigger: 'head', drop: 'fin' },
  { name: 'stream-event-rst', request: 'stream', trigger: 'event', drop: 'rst' },
  { name: 'hello', request: 'hello', trigger: 'body', drop: 'fin' },
  { name: 'stream-head-rst', request: 'stream', trigger: 'head', drop: 'rst' },
  { name: 'half-line-fin', request: 'stream', cut: 'line', trigger: 'sent', drop: 'fin' },
  { name: 'stream-event-fin', request: 'stream', trigger: 'event', drop: 'fin' },
  { name: 'resume-event-fin', request: 'resume', trigger: 'event', drop: 'fin' },
  { name: 'silent-fin', request: 'none', trigger: 'connect', drop: 'fin' },
  { name: 'half-head-rst', request: 'stream', cut: 'head', trigger: 'sent', drop: 'rst' },
  { name: 'resume-head-rst', request: 'resume', trigger: 'head', drop: 'rst' },
  { name: 'stale-resume-event-fin', request: 'stale', trigger: 'event', drop: 'fin' },
  { name: 'silent-rst', request: 'none', trigger: 'connect', drop: 'rst' },
  { name: 'stream-sent-rst', request: 'stream', trigger: 'sent', drop: 'rst', dwellMs: 0 },
];

const now = () => performance.now();
const began = now();
const stopLaunchingAt = began + options.duration * 1000;

// Outcomes.
const totals = {
  started: 0, finished: 0, connected: 0, peakAlive: 0, peakUnanswered: 0,
  finsSent: 0, rstsSent: 0, closedByRelayAfterFin: 0, closedByRelayFirst: 0,
  timeouts: 0, responses: {}, modes: {}, errors: {}, unexpected: {}, behaviours: {},
  helloBodiesOk: 0, firstEvents: 0, resumeWithoutId: 0, stuck: [],
};
for (const b of BEHAVIOURS) totals.behaviours[b.name] = { started: 0, done: 0, responses: {}, maxMs: 0, maxAfterDropMs: 0 };
const bump = (object, key, by = 1) => { object[key] = (object[key] || 0) + by; };

// The newest event id seen per conversation, for resumes.
const lastIds = new Map();

let alive = 0;
// Clients the relay may not have accepted yet: connecting, or connected but not answered. The
// kernel completes a handshake before the relay accepts the connection, so a connect alone
// says nothing about the relay's accept queue; the first response byte does. Clients that
// will never get an answer (silent, cut, reset behind the request) leave this count at their
// connect: 5 behaviours of 13, at most 1,924 of 5,000 clients alive, so with the cap the
// relay's backlog (4,096) cannot overflow.
let unanswered = 0;
let nextBehaviour = 0;

function requestFor(behaviour, conversation) {
  const path = `/api/conversation/${options.prefix}-${conversation}/stream?${options.query}`;
  let extra = '';
  if (behaviour.request === 'resume') {
    const id = lastIds.get(conversation);
    if (id) extra = `Last-Event-ID: ${id}\r\n`;
    else totals.resumeWithoutId++;
  } else if (behaviour.request === 'stale') {
    // A well-formed relay id of a generation that never existed: a replay miss.
    extra = 'Last-Event-ID: 00000000deadbeef-7\r\n';
  }
  if (behaviour.request === 'hello') {
    return 'GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: churn\r\n\r\n';
  }
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n` +
    `User-Agent: churn\r\nCache-Control: no-cache\r\n${extra}\r\n`;
}

function startClient() {
  const behaviour = BEHAVIOURS[nextBehaviour];
  nextBehaviour = (nextBehaviour + 1) % BEHAVIOURS.length;
  // One conversation per round of behaviours, so every behaviour meets every conversation.
  const conversation = Math.floor(totals.started / BEHAVIOURS.length) % options.conversations;
  const stats = totals.behaviours[behaviour.name];
  totals.started++;
  stats.started++;
  alive++;
  unanswered++;
  totals.peakAlive = Math.max(totals.peakAlive, alive);
  totals.peakUnanswered = Math.max(totals.peakUnanswered, unanswered);

  let holdsSlot = true;
  let done = false;
  let dropScheduled = false;
  let dropped = false;
  let head = null; // { status, headers } once parsed
  let pending = Buffer.alloc(0); // bytes before the end of the head
  let body = ''; // latin1 text of the body until the trigger, for the first event
  let bodyBytes = 0;
  let dwellTimer = null;

  const socket = net.connect({ host: '127.0.0.1', port: options.port });
  socket.setNoDelay(true);
  const startedAt = now();
  let headAt = null;
  let droppedAt = null;
  const timeout = setTimeout(() => {
    totals.timeouts++;
    bump(totals.unexpected, `${behaviour.name}: timeout (${head ? 'after head' : 'no head'}, ${dropped ? 'dropped' : 'not dropped'})`);
    if (totals.stuck.length < 20) {
      const ms = (t) => (t === null ? null : Math.round(t - startedAt));
      totals.stuck.push({
        behaviour: behaviour.name, localPort: socket.localPort, status: head ? head.status : null,
        headMs: ms(headAt), droppedMs: ms(droppedAt), bodyBytes,
        startedAtS: Number(((startedAt - began) / 1000).toFixed(2)),
      });
      if (process.env.CHURN_DEBUG) {
        try {
          const ss = require('child_process').execSync(`ss -tnoie '( sport = :${socket.localPort} or dport = :${socket.localPort} )'`).toString();
          process.stderr.write(`stuck ${JSON.stringify(totals.stuck[totals.stuck.length - 1])}\n${ss}\n`);
        } catch (error) { process.stderr.write(`ss: ${error.message}\n`); }
      }
    }
    finish();
    socket.destroy();
  }, options.clientTimeoutMs);

  function releaseSlot() {
    if (holdsSlot) {
      holdsSlot = false;
      unanswered--;
      pump();
    }
  }

  function finish() {
    if (done) return;
    done = true;
    releaseSlot();
    clearTimeout(timeout);
    if (dwellTimer) clearTimeout(dwellTimer);
    alive--;
    totals.finished++;
    stats.done++;
    const lifetime = now() - startedAt;
    stats.maxMs = Math.max(stats.maxMs, Math.round(lifetime));
    if (droppedAt !== null) stats.maxAfterDropMs = Math.max(stats.maxAfterDropMs, Math.round(now() - droppedAt));
    pump();
  }

  function scheduleDrop() {
    if (dropScheduled) return;
    dropScheduled = true;
    if (behaviour.dwellMs === 0) {
      drop();
      return;
    }
    const dwell = behaviour.request === 'none' || behaviour.cut ? options.quietDwellMs : options.dwellMs;
    dwellTimer = setTimeout(drop, Math.floor(Math.random() * (dwell + 1)));
  }

  function drop() {
    dwellTimer = null;
    if (done || dropped) return;
    dropped = true;
    droppedAt = now();
    if (behaviour.drop === 'rst') {
      totals.rstsSent++;
      try {
        socket.resetAndDestroy();
      } catch (error) {
        bump(totals.errors, `resetAndDestroy: ${error.code || error.message}`);
        socket.destroy();
      }
      finish();
    } else {
      totals.finsSent++;
      socket.end(); // FIN; the client then waits for the relay to close (the 'close' event)
    }
  }

  function unexpected(what) {
    bump(totals.unexpected, `${behaviour.name}: ${what}`);
  }

  socket.on('connect', () => {
    totals.connected++;
    if (behaviour.request === 'none' || behaviour.cut || behaviour.trigger === 'sent') releaseSlot();
    const request = behaviour.request === 'none' ? '' : requestFor(behaviour, conversation);
    if (behaviour.cut === 'line') {
      const line = request.slice(0, request.indexOf('\r\n'));
      socket.write(line.slice(0, Math.floor(line.length / 2)));
    } else if (behaviour.cut === 'head') {
      socket.write(request.slice(0, Math.floor(request.length / 2)));
    } else if (request) {
      socket.write(request);
    }
    if (behaviour.trigger === 'sent' || behaviour.trigger === 'connect') scheduleDrop();
  });

  socket.on('data', (chunk) => {
    if (done) return;
    releaseSlot();
    if (!head) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) {
        if (pending.length > 65536) {
          unexpected('response head over 64 KiB');
          socket.destroy();
          finish();
        }
        return;
      }
      const lines = pending.subarray(0, end).toString('latin1').split('\r\n');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
      const headers = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      head = { status: match ? Number(match[1]) : 0, headers };
      headAt = now();
      bump(totals.responses, String(head.status));
      bump(stats.responses, String(head.status));
      if (headers['x-sse-relay']) bump(totals.modes, headers['x-sse-relay']);
      const rest = pending.subarray(end + 4);
      pending = null;
      const expected = behaviour.cut ? [400] : behaviour.request === 'none' ? [] : [200];
      if (!expected.includes(head.status)) unexpected(`status ${head.status}`);
      if (behaviour.trigger === 'head') scheduleDrop();
      else if (behaviour.request === 'none' || behaviour.cut) {
        // The relay answered a request that was never sent in full (400 after our FIN), or
        // a silent connection; nothing more to wait for than the close.
      }
      chunk = rest;
      if (chunk.length === 0) return;
    }
    bodyBytes += chunk.length;
    if (dropScheduled) return; // after the trigger: only the close matters
    if (behaviour.trigger === 'body') {
      const length = Number(head.headers['content-length']);
      if (bodyBytes >= length) {
        totals.helloBodiesOk++;
        scheduleDrop();
      }
      return;
    }
    if (behaviour.trigger === 'event') {
      body += chunk.toString('latin1');
      // Events arrive one per chunk of the chunked body, as `data: …\nid: <relay id>\n\n` (the
      // relay writes its id last); the first event is the first block with a data line.
      const dataAt = body.indexOf('\ndata:');
      const block = dataAt >= 0 ? /\n\n/g : null;
      if (block) block.lastIndex = dataAt;
      const blockEnd = block && block.exec(body);
      if (blockEnd) {
        const id = /\nid: ?([^\r\n]+)\n$/.exec(body.slice(dataAt, blockEnd.index + 1));
        if (id && behaviour.request !== 'stale') lastIds.set(conversation, id[1]);
        if (!id) bump(totals.unexpected, `${behaviour.name}: first event without an id`);
        totals.firstEvents++;
        body = '';
        scheduleDrop();
      } else if (body.length > 1 << 20) {
        unexpected('no event within 1 MiB');
        body = '';
      }
    }
  });

  socket.on('end', () => {
    // The relay closed its side. Before our drop that is the relay's decision (a 400 after a
    // cut request, the end of a response); after our FIN it is the expected close.
    if (done) return;
    if (dropped) totals.closedByRelayAfterFin++;
    else {
      totals.closedByRelayFirst++;
      if (!(behaviour.cut && head && head.status === 400)) {
        unexpected(`relay closed first (${head ? `after status ${head.status}` : 'no response'})`);
      }
    }
  });

  socket.on('error', (error) => {
    bump(totals.errors, error.code || error.message);
  });

  socket.on('close', () => {
    finish();
  });
}

let launching = false;
function pump() {
  if (launching) return;
  launching = true;
  try {
    // Bounded: each pass starts at most the free client slots, and never past the duration.
    while (now() < stopLaunchingAt && alive < options.clients && unanswered < options.connectConcurrency) {
      startClient();
    }
  } finally {
    launching = false;
  }
  if (now() >= stopLaunchingAt && alive === 0) report(false);
}

// Clients finishing call pump(); this tick also covers the moment the duration ends and keeps
// launching if every slot was busy.
const ticker = setInterval(pump, 20);
const hardStop = setTimeout(() => report(true), (options.duration + options.graceS) * 1000);

let reported = false;
function report(incomplete) {
  if (reported) return;
  reported = true;
  clearInterval(ticker);
  clearTimeout(hardStop);
  const seconds = (now() - began) / 1000;
  const launchSeconds = Math.min(seconds, options.duration);
  const result = {
    incomplete, stillAlive: alive, runSeconds: Number(seconds.toFixed(2)),
    durationS: options.duration, clientsPerSecond: Math.round(totals.started / launchSeconds),
    cyclesPerSecond: Math.round(totals.finished / seconds),
    cpuSeconds: Number(((process.cpuUsage().user + process.cpuUsage().system) / 1e6).toFixed(1)),
    options, ...totals,
  };
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(incomplete ? 2 : 0));
}

pump();
