// The browser end-to-end tests' network path: a test-only TCP proxy that cuts SSE connections,
// and the server of the test pages, on one origin. Node built-ins only.
//
//   node cutting-proxy.js TARGET_PORT [CUT_AFTER]
//
// Prints {"port": N} on stdout once listening on 127.0.0.1 (an OS-chosen port) and exits when
// its stdin closes (or on SIGTERM), like backend.js. The first request line of each connection
// decides what the connection is:
//
//   GET /browser/chat.html, /browser/tabs.html
//                 that page of this folder, then the connection closes (`Connection: close`,
//                 so no later request of the browser rides on it)
//   GET /browser/stats
//                 JSON {connections, cuts, statuses}: proxied connections so far, how many of
//                 them were cut, and how many responses of each status came back through them
//   anything else piped byte for byte to 127.0.0.1:TARGET_PORT (the relay, or the backend
//                 directly for the control run). Once CUT_AFTER (default 3) events with a
//                 `data:` line have come back on a connection, the bytes up to the end of that
//                 event are delivered and the connection is closed both ways, mid-response: to
//                 the browser's EventSource it is a network drop, so it reconnects.
//
// Pages and stream share the origin, so the page's EventSource needs no CORS.
'use strict';
const net = require('net');
const fs = require('fs');
const path = require('path');

const targetPort = Number(process.argv[2]);
const cutAfter = Number(process.argv[3] || 3);
if (!Number.isInteger(targetPort) || targetPort <= 0 || !Number.isInteger(cutAfter) || cutAfter <= 0) {
  process.stderr.write('usage: node cutting-proxy.js TARGET_PORT [CUT_AFTER]\n');
  process.exit(64);
}

const pages = new Set(['chat.html', 'tabs.html']);
const stats = { connections: 0, cuts: 0, statuses: {} };
const LF = 0x0a;
const DATA = Buffer.from('data:');
// A request line longer than this is not one of ours: the connection is dropped.
const maxRequestLine = 8192;

function respond(socket, status, type, body) {
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}

function serveLocal(socket, target) {
  const name = target.slice('/browser/'.length).split('?')[0];
  if (name === 'stats') {
    respond(socket, '200 OK', 'application/json', JSON.stringify(stats));
  } else if (pages.has(name)) {
    respond(socket, '200 OK', 'text/html; charset=utf-8', fs.readFileSync(path.join(__dirname, name), 'utf8'));
  } else {
    respond(socket, '404 Not Found', 'text/plain', 'not found');
  }
}

// Counts the SSE events with a data line in the bytes coming back from the target (HTTP
// framing included: a chunk-size line never starts with `data:`), and says where the
// CUT_AFTER-th one ends. The relay and the backend write each event with LF line endings and
// in one write, so an event's blank line is never split by chunk framing.
function eventCounter() {
  let matched = 0; // bytes of `data:` matched at the start of the current line; -1: no match
  let previousLF = true;
  let inDataEvent = false;
  let events = 0;
  return (chunk) => {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === LF) {
        if (previousLF && inDataEvent) {
          events++;
          inDataEvent = false;
          if (events >= cutAfter) return i + 1;
        }
        previousLF = true;
        matched = 0;
        continue;
      }
      previousLF = false;
      if (matched >= 0 && matched < DATA.length) {
        matched = byte === DATA[matched] ? matched + 1 : -1;
        if (matched === DATA.length) inDataEvent = true;
      }
    }
    return -1;
  };
}

function recordStatuses(chunk) {
  const text = chunk.toString('latin1');
  for (const match of text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)) {
    stats.statuses[match[1]] = (stats.statuses[match[1]] || 0) + 1;
  }
}

function proxy(client, firstBytes) {
  stats.connections++;
  const upstream = net.connect(targetPort, '127.0.0.1');
  const cutPoint = eventCounter();
  let cut = false;
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('end', () => client.end());
  upstream.write(firstBytes);
  client.pipe(upstream);
  upstream.on('data', (chunk) => {
    if (cut) return;
    recordStatuses(chunk);
    const end = cutPoint(chunk);
    if (end < 0) {
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
      return;
    }
    cut = true;
    stats.cuts++;
    upstream.destroy();
    // The last event is delivered whole, then the connection ends mid-response.
    client.end(chunk.subarray(0, end), () => client.destroy());
  });
}

const server = net.createServer((client) => {
  let head = Buffer.alloc(0);
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const lineEnd = head.indexOf('\r\n');
    if (lineEnd < 0) {
      if (head.length > maxRequestLine) client.destroy();
      return;
    }
    client.removeListener('data', onData);
    client.pause();
    const [method, target] = head.subarray(0, lineEnd).toString('latin1').split(' ');
    if (method === 'GET' && target.startsWith('/browser/')) {
      serveLocal(client, target);
    } else {
      proxy(client, head);
    }
  };
  client.on('data', onData);
  client.on('error', () => {});
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
