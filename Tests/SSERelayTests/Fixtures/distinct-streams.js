// Opens N SSE clients, each on a conversation of its own, and reports how their streams began.
// Node built-ins only; loopback only. For DistinctStreamsCapacityTests.
//
//   node distinct-streams.js PORT COUNT PREFIX TIMEOUT_S
//
// Client i requests /api/conversation/PREFIX-i/stream?events=1&hold=1 (one event, then the
// backend holds the stream open, so every stream is open at once by the end). At most 128
// connects are pending at a time, so the burst never overflows a listen backlog. Prints one
// JSON line, {"clients", "firstEvents", "unavailable", "errors", "seconds"}, once every client
// has its first event or its `: upstream unavailable` comment, or when TIMEOUT_S passes; then
// exits, which closes every connection.
//
// The clients stand for many users: client i connects from 127.0.0.(2 + i % 200), so each
// loopback address starts at most 15 streams, within the relay's default per-client start
// burst (limits.streamStartBurstPerClient, 60). Linux routes all of 127.0.0.0/8 to loopback.
'use strict';
const http = require('http');

const [port, count, prefix, timeoutS] = [Number(process.argv[2]), Number(process.argv[3]),
  process.argv[4], Number(process.argv[5] || 30)];
const started = Date.now();
let next = 0;
let pending = 0;
let firstEvents = 0;
let unavailable = 0;
let errors = 0;

function report() {
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ clients: count, firstEvents, unavailable, errors, seconds }) + '\n', () => process.exit(0));
}

function settled() {
  if (firstEvents + unavailable + errors === count) report();
}

function open(i) {
  pending++;
  let done = false;
  let connected = false;
  const finish = (outcome) => {
    if (done) return;
    done = true;
    if (outcome === 'event') firstEvents++;
    else if (outcome === 'unavailable') unavailable++;
    else errors++;
    settled();
  };
  const req = http.get({
    host: '127.0.0.1', port, agent: false, localAddress: `127.0.0.${2 + (i % 200)}`,
    path: `/api/conversation/${prefix}-${i}/stream?events=1&hold=1`,
    headers: { accept: 'text/event-stream' },
  }, (res) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      text += chunk;
      if (text.includes(`data: token 1 of ${prefix}-${i}`)) finish('event');
      else if (text.includes(': upstream unavailable')) finish('unavailable');
    });
    res.on('end', () => finish('error'));
  });
  req.on('socket', (socket) => socket.on('connect', () => {
    connected = true;
    pending--;
    pump();
  }));
  req.on('error', () => {
    if (!connected) { pending--; pump(); }
    finish('error');
  });
}

function pump() {
  while (next < count && pending < 128) open(next++);
}

setTimeout(report, timeoutS * 1000);
pump();
