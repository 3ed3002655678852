// A stand-in for the chat backend sse-relay sits in front of. Node built-ins only.
//
// Prints {"port": N} on stdout once listening on 127.0.0.1 (port from argv[2], default 0; the
// address from argv[3], such as 127.0.0.2, for a backend that moves to another address).
// With FIXTURE_TLS_KEY and FIXTURE_TLS_CERT (PEM file paths) it serves HTTPS instead.
// Routes:
//   GET  /hello                 200 text/plain "hello world" with Content-Length
//   ANY  /echo                  200 JSON {method, url, httpVersion, headers, bodyBytes, bodySha256}
//   ANY  /status/:code          that status; a short body unless the status forbids one
//   GET  /bytes/:n              n pattern bytes, chunked (?length=1: with Content-Length;
//                               ?id=X: progress recorded for /progress/X). Each 8-byte word
//                               is its own byte offset modulo 16 MiB, as a little-endian
//                               64-bit number: no two words of the first 16 MiB are equal,
//                               so a block delivered twice, lost or out of place shows.
//   GET  /progress/:id          JSON {written, waiting, aborted} of a /bytes response
//   POST /upload                200 JSON {bytes, sha256} of the request body
//   GET  /hang                  headers never sent
//   GET  /stats                 200 JSON {connections, requests}
//   GET  /sse                   a short SSE stream (text/event-stream)
//   GET  /api/conversation/:id/stream
//                               a fake LLM completion as SSE: counts a start per conversation,
//                               then `events` (default 5) events `data: token K of :id`, one
//                               every `interval` ms (default 10), then ends. Query options:
//                               ids=1 (events carry `id: up-K`), retry=N (sends `retry: N`),
//                               comment=1 (a `: keep-alive` comment before each event),
//                               status=N (answers N with a plain body instead),
//                               hold=1 (never ends after the events), crlf=1 (CRLF endings),
//                               size=N (N bytes of padding per event), stamp=1 (` t=<ms>`),
//                               batch=N (N events per tick), raw=B64URL (that exact body,
//                               written `chunk` bytes at a time), cookie=1 (the response
//                               sets `Set-Cookie: session=backend-secret`), drop=K (the
//                               socket is destroyed right after event K: a failed answer),
//                               overlong=K (event K carries a 2 MiB line),
//                               whom=1 (each event says ` for <Authorization header>`),
//                               gate=1 (no timer: events are written only when released,
//                               see /release; the head is sent at once).
//                               The Last-Event-ID it received is echoed in `x-last-event-id`.
//   POST /api/conversation/:id/release?events=N
//                               writes the next N events (default: all that are left) of each
//                               open gate=1 stream of the conversation at once, and ends a
//                               stream after its last event (unless hold=1); answers JSON
//                               {streams}: how many streams it released events of
//   GET  /api/conversation/:id/stats
//                               JSON {starts, aborted, lastEventIds, urls, authorizations} of
//                               that conversation (urls: each started stream's request target,
//                               as received; authorizations: its Authorization header or null)
//   GET  /completions           JSON {started, running}: completions started in all, and
//                               those whose stream is still open (neither ended nor aborted)
//   Upgrade: echo               101, then every byte is echoed back
'use strict';
const http = require('http');
const crypto = require('crypto');

let connections = 0;
let requests = 0;
const hanging = new Set();

// The /bytes payload, made once and sent as views into it (no copy per response, so the
// benchmarks' 1 GiB downloads stay at memory speed): word k holds 8k, little-endian.
const PATTERN_PERIOD = 16 << 20;
let patternBytes = null;
function pattern() {
  if (patternBytes === null) {
    patternBytes = Buffer.alloc(PATTERN_PERIOD);
    const words = new DataView(patternBytes.buffer, patternBytes.byteOffset, patternBytes.length);
    for (let offset = 0; offset < PATTERN_PERIOD; offset += 8) words.setBigUint64(offset, BigInt(offset), true);
  }
  return patternBytes;
}

// Progress of /bytes responses that carry ?id=…, for backpressure tests:
// written = bytes handed to the socket, waiting = blocked until the socket drains.
const progress = new Map();

function sendBytes(req, res, n, withLength, id) {
  const bytes = pattern();
  const state = { written: 0, waiting: false };
  if (id) progress.set(id, state);
  const headers = { 'Content-Type': 'application/octet-stream' };
  if (withLength) headers['Content-Length'] = String(n);
  res.writeHead(200, headers);
  let remaining = n;
  let offset = 0;
  const pump = () => {
    while (remaining > 0) {
      // 64 KiB writes, each a view into the pattern (whose period is a multiple of 64 KiB).
      const size = Math.min(remaining, 65536);
      const start = offset % PATTERN_PERIOD;
      remaining -= size;
      offset += size;
      state.written += size;
      if (!res.write(bytes.subarray(start, start + size))) {
        state.waiting = true;
        res.once('drain', () => { state.waiting = false; pump(); });
        return;
      }
    }
    res.end();
  };
  req.on('close', () => { if (remaining > 0) state.aborted = true; });
  pump();
}

function readBody(req, done) {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  req.on('data', (chunk) => { bytes += chunk.length; hash.update(chunk); });
  req.on('end', () => done(bytes, hash.digest('hex')));
}

const conversations = new Map();
const completions = { started: 0, running: 0 };
function conversation(id) {
  if (!conversations.has(id)) {
    conversations.set(id, { starts: 0, aborted: 0, lastEventIds: [], urls: [], authorizations: [] });
  }
  return conversations.get(id);
}
// The open gate=1 streams of each conversation: conversation id -> Set of release(count).
const gates = new Map();

function streamCompletion(req, res, id, url) {
  const stats = conversation(id);
  const status = Number(url.searchParams.get('status') || 200);
  if (status !== 200) {
    res.writeHead(status, { 'Content-Type': 'text/plain', 'X-Conversation': id });
    res.end(`no stream for ${id}: status ${status}`);
    return;
  }
  stats.starts++;
  completions.started++;
  completions.running++;
  let counted = true;
  const stopped = () => { if (counted) { counted = false; completions.running--; } };
  res.on('close', stopped);
  stats.lastEventIds.push(req.headers['last-event-id'] || null);
  stats.urls.push(req.url);
  stats.authorizations.push(req.headers.authorization || null);
  if (url.searchParams.get('raw')) {
    // The body exactly as given (base64url), in chunks of `chunk` bytes: tricky frames.
    const body = Buffer.from(url.searchParams.get('raw'), 'base64url');
    const chunk = Number(url.searchParams.get('chunk') || body.length || 1);
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    let offset = 0;
    const timer = setInterval(() => {
      if (offset >= body.length) { clearInterval(timer); res.end(); return; }
      res.write(body.subarray(offset, offset + chunk));
      offset += chunk;
    }, 1);
    req.on('close', () => clearInterval(timer));
    return;
  }
  const total = Number(url.searchParams.get('events') || 5);
  const interval = Number(url.searchParams.get('interval') || 10);
  const nl = url.searchParams.get('crlf') === '1' ? '\r\n' : '\n';
  const headers = {
    'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache',
    'X-Conversation': id, 'X-Last-Event-Id': req.headers['last-event-id'] || '',
  };
  if (url.searchParams.get('cookie') === '1') headers['Set-Cookie'] = 'session=backend-secret';
  res.writeHead(200, headers);
  if (url.searchParams.get('retry')) res.write(`retry: ${url.searchParams.get('retry')}${nl}${nl}`);
  let k = 0;
  let done = false;
  let timer = null;
  const stop = () => { if (timer !== null) clearInterval(timer); if (gate) gate.delete(release); };
  // The frame of the next event (k counts the events written).
  const nextEvent = () => {
    k++;
    let frame = '';
    if (url.searchParams.get('comment') === '1') frame += `: keep-alive${nl}`;
    if (url.searchParams.get('ids') === '1') frame += `id: up-${k}${nl}`;
    const size = Number(url.searchParams.get('size') || 0);
    const padding = size > 0 ? ` ${'x'.repeat(size)}` : '';
    const stamp = url.searchParams.get('stamp') === '1' ? ` t=${Date.now()}` : '';
    const overlong = Number(url.searchParams.get('overlong') || 0) === k ? ` ${'y'.repeat(2 << 20)}` : '';
    const whom = url.searchParams.get('whom') === '1' ? ` for ${req.headers.authorization || 'nobody'}` : '';
    return `${frame}data: token ${k} of ${id}${whom}${stamp}${padding}${overlong}${nl}${nl}`;
  };
  // Writes up to `count` events; returns false once the stream is over.
  const write = (count) => {
    if (k >= total) {
      stop();
      if (url.searchParams.get('hold') !== '1') { done = true; res.end(); }
      return false;
    }
    let frame = '';
    for (let b = 0; b < count && k < total; b++) frame += nextEvent();
    res.write(frame);
    if (Number(url.searchParams.get('drop') || 0) === k) {
      stop();
      done = true;
      res.socket.end();
      return false;
    }
    if (k >= total && gate) return write(0);
    return true;
  };
  const gate = url.searchParams.get('gate') === '1' ? (gates.get(id) || new Set()) : null;
  const release = (count) => write(count);
  if (gate) {
    gates.set(id, gate);
    gate.add(release);
    res.flushHeaders();
  } else {
    const batch = Number(url.searchParams.get('batch') || 1);
    timer = setInterval(() => write(batch), interval);
  }
  req.on('close', () => {
    stop();
    if (!done) stats.aborted++;
  });
}

const handler = (req, res) => {
  requests++;
  const url = new URL(req.url, 'http://backend');
  const parts = url.pathname.split('/').filter(Boolean);
  if (parts[0] === 'api' && parts[1] === 'conversation' && parts.length === 4 && parts[3] === 'stream') {
    streamCompletion(req, res, decodeURIComponent(parts[2]), url);
  } else if (parts[0] === 'api' && parts[1] === 'conversation' && parts.length === 4 && parts[3] === 'release') {
    const streams = [...(gates.get(decodeURIComponent(parts[2])) || [])];
    const count = Number(url.searchParams.get('events') || Infinity);
    for (const release of streams) release(count);
    const body = JSON.stringify({ streams: streams.length });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  } else if (parts[0] === 'api' && parts[1] === 'conversation' && parts.length === 4 && parts[3] === 'stats') {
    const body = JSON.stringify(conversation(decodeURIComponent(parts[2])));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  } else if (url.pathname === '/hello') {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '11' });
    res.end('hello world');
  } else if (url.pathname === '/echo') {
    readBody(req, (bytes, sha) => {
      const body = JSON.stringify({
        method: req.method, url: req.url, httpVersion: req.httpVersion,
        headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: bytes, bodySha256: sha,
      });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  } else if (parts[0] === 'status' && parts.length === 2) {
    const code = Number(parts[1]);
    readBody(req, () => {
      if (code === 204 || code === 304) {
        res.writeHead(code, { 'X-Status': String(code) });
        res.end();
      } else {
        res.writeHead(code, { 'Content-Type': 'text/plain', 'X-Status': String(code) });
        res.end(`status ${code}`);
      }
    });
  } else if (parts[0] === 'bytes' && parts.length === 2) {
    sendBytes(req, res, Number(parts[1]), url.searchParams.get('length') === '1', url.searchParams.get('id'));
  } else if (parts[0] === 'progress' && parts.length === 2) {
    const body = JSON.stringify(progress.get(parts[1]) || null);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  } else if (url.pathname === '/upload') {
    readBody(req, (bytes, sha) => {
      const body = JSON.stringify({ bytes, sha256: sha });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  } else if (url.pathname === '/hang') {
    hanging.add(res);
    req.on('close', () => hanging.delete(res));
  } else if (url.pathname === '/completions') {
    const body = JSON.stringify(completions);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  } else if (url.pathname === '/stats') {
    const body = JSON.stringify({ connections, requests });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  } else if (url.pathname === '/sse') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    let n = 0;
    const timer = setInterval(() => {
      n++;
      res.write(`data: event ${n}\n\n`);
      if (n === 3) { clearInterval(timer); res.end(); }
    }, 5);
    req.on('close', () => clearInterval(timer));
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
  }
};

const server = process.env.FIXTURE_TLS_KEY
  ? require('https').createServer({
    key: require('fs').readFileSync(process.env.FIXTURE_TLS_KEY),
    cert: require('fs').readFileSync(process.env.FIXTURE_TLS_CERT),
  }, handler)
  : http.createServer(handler);

// FIXTURE_KEEP_ALIVE_MS: how long an idle keep-alive connection stays open (Node's default, 5 s,
// otherwise), for a test that counts the connections a relay opens across pauses that a slow
// sanitizer run can stretch past 5 s.
if (process.env.FIXTURE_KEEP_ALIVE_MS) server.keepAliveTimeout = Number(process.env.FIXTURE_KEEP_ALIVE_MS);
server.on('connection', () => { connections++; });
server.on('upgrade', (req, socket, head) => {
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
  if (head.length) socket.write(head);
  socket.on('data', (chunk) => socket.write(chunk));
  socket.on('error', () => {});
});

server.listen(Number(process.argv[2] || 0), process.argv[3] || '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
// The test process holds our stdin; when it ends, so do we (unless run standalone, as the
// benchmarks and the README's hand-run example do: FIXTURE_STANDALONE=1).
if (process.env.FIXTURE_STANDALONE !== '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
