// Fan-out load generator: N SSE clients on ONE conversation through the relay.
// Node built-ins only. Loopback only.
//
//   node bench/fanout.js URL CLIENTS
//
// Counts events per client and the delivery latency (receive time minus the `t=<ms>` the
// backend fixture stamps into each event with ?stamp=1). Prints one JSON line when every
// client's stream has ended.
'use strict';
const http = require('http');

const [url, clientsArg] = process.argv.slice(2);
const clients = Number(clientsArg || 1000);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const latencies = [];
let events = 0;
let connected = 0;
let finished = 0;
let failed = 0;
let firstEventAt = 0;
let lastEventAt = 0;
const startedAt = Date.now();

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

function done() {
  finished++;
  if (finished < clients) return;
  latencies.sort((a, b) => a - b);
  const seconds = (lastEventAt - firstEventAt) / 1000;
  console.log(JSON.stringify({
    clients, connected, failed, events,
    eventsPerClient: events / clients,
    deliveriesPerSecond: seconds > 0 ? Math.round(events / seconds) : null,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] },
    wallSeconds: (Date.now() - startedAt) / 1000,
  }));
  process.exit(0);
}

for (let i = 0; i < clients; i++) {
  const req = http.get(url, { agent, headers: { Accept: 'text/event-stream' } }, (res) => {
    connected++;
    res.setEncoding('utf8');
    let buffer = '';
    res.on('data', (chunk) => {
      buffer += chunk;
      let index;
      while ((index = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, index);
        buffer = buffer.slice(index + 1);
        if (line.startsWith('data:')) {
          const now = Date.now();
          events++;
          if (!firstEventAt) firstEventAt = now;
          lastEventAt = now;
          const t = line.match(/ t=(\d+)/);
          if (t) latencies.push(now - Number(t[1]));
        }
      }
    });
    res.on('end', done);
    res.on('error', () => { failed++; done(); });
  });
  req.on('error', () => { failed++; done(); });
}
