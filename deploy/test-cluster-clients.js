// The client side of deploy/test-cluster.sh: starts the clustered relays, puts them into
// HAProxy's server slots, runs the scenario (phases 1-6, see the shell script) with SSE
// clients through HAProxy's round-robin, checks, and prints the figures. Node built-ins only.
//
// Usage (the shell script does this): node deploy/test-cluster-clients.js SETUP_JSON
//   SETUP_JSON = {"haproxy": "127.0.0.1:P", "haproxySocket": "/path/haproxy.sock",
//                 "fixture": "127.0.0.1:P", "relayBin": "/path/sse-relay",
//                 "relayConfig": "/path/relay.json", "work": "/path/work", "pgDir": "/path/pg",
//                 "pgUrl": "postgres://relay@127.0.0.1:P/relay", "pgPasswordFile": "/path/pw",
//                 "psql": "/path/psql", "slots": ["slot1", ...]}
//   Every relay started here logs to WORK/relayN.log and its pid is appended to
//   WORK/relays.pids (the shell script kills what is left on exit). pgDir is the throwaway
//   PostgreSQL's directory, stopped and resumed in phase 6 with deploy/postgres-throwaway.sh;
//   psql reads the directory's table (sse_relay_directory) to check the leases.
//
// The clients behave like a browser's EventSource: they honour `retry:`, remember the last
// event id (priming id-only blocks and end markers included) and reconnect with Last-Event-ID
// after the response ends or the connection drops; a 204 or any other non-200 answer stops
// them. Prints PASS/FAIL lines; exits 0 when every assertion holds, 1 otherwise.
'use strict';
const { spawn, execFile } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const support = require('./lib/test-support');

const setup = JSON.parse(process.argv[2]);
const started = Date.now();
const failures = [];
const BACKEND = 'relays';
const RETRY_MS = 500; // the relays' streams[0].retryMs (test-cluster.sh's relay.json)
const LEASE_SECONDS = 4;
const RENEW_SECONDS = 1;

// ---- small helpers ----------------------------------------------------------------------

const {
  sleep, sum, percentile, reporter, poll, getText, getJSON, parseMetrics, metricValue, histogramOf,
  histogramQuantile,
} = support;
const { elapsed, log, check } = reporter(started, failures);

function pass(message) {
  console.log(`PASS: ${message}`);
}

// A phase's verdict: PASS when no check of the phase failed.
function verdict(phase, failuresBefore, summary) {
  if (failures.length === failuresBefore) pass(`${phase}: ${summary}`);
  else console.log(`FAIL: ${phase}: ${failures.length - failuresBefore} check(s) failed (see above)`);
}

function runScript(args, timeoutMs = 60000) {
  return new Promise((resolve, reject) => {
    execFile('bash', args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`bash ${args.join(' ')}: ${error.message} ${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

// One statement on the directory's database with psql (the throwaway server's binaries);
// its rows as psql -A -t prints them ("a|b" per row).
function sql(statement) {
  const password = fs.readFileSync(setup.pgPasswordFile, 'utf8').trim();
  return new Promise((resolve, reject) => {
    execFile(setup.psql, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', statement, setup.pgUrl],
      { timeout: 10000, env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`psql ${statement}: ${error.message} ${stderr}`));
        else resolve(stdout.trim());
      });
  });
}

// The last line of a relay's log whose message matches `pattern`, for FAIL lines.
function lastLogLine(relay, pattern) {
  let lines = [];
  try { lines = fs.readFileSync(relay.log, 'utf8').split('\n'); } catch (error) { return '(no log)'; }
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const entry = JSON.parse(lines[i]);
      if (pattern.test(entry.msg)) {
        return JSON.stringify({ ts: entry.ts, msg: entry.msg, error: entry.error });
      }
    } catch (error) { /* not a JSON line */ }
  }
  return '(no such line)';
}

// ---- HAProxy's runtime API ----------------------------------------------------------------

function haproxy(command) {
  return new Promise((resolve, reject) => {
    let out = '';
    const socket = net.createConnection(setup.haproxySocket, () => socket.end(`${command}\n`));
    socket.setTimeout(3000, () => socket.destroy(new Error(`haproxy socket: timeout on ${command}`)));
    socket.on('data', (chunk) => { out += chunk; });
    socket.on('error', reject);
    socket.on('close', () => resolve(out));
  });
}

// {slot name: {addr, port, admin}} from `show servers state`: admin is srv_admin_state, 0 when
// in service, with the maintenance bit (1) set while in maintenance.
async function slotStates() {
  const out = await haproxy(`show servers state ${BACKEND}`);
  const lines = out.split('\n').filter((line) => line.trim().length > 0);
  const header = lines.find((line) => line.startsWith('# '));
  if (!header) throw new Error(`show servers state: ${out}`);
  const columns = header.slice(2).trim().split(/\s+/);
  const at = (name) => columns.indexOf(name);
  const states = {};
  for (const line of lines) {
    if (line.startsWith('#') || !/^\d/.test(line)) continue;
    const fields = line.trim().split(/\s+/);
    states[fields[at('srv_name')]] = {
      addr: fields[at('srv_addr')], port: Number(fields[at('srv_port')]), admin: Number(fields[at('srv_admin_state')]),
    };
  }
  return states;
}

// ---- relays ---------------------------------------------------------------------------------

const relays = []; // every relay started, in order
const slotHolder = {}; // slot name -> the relay HAProxy sends that slot's requests to now
let relayCount = 0;

function alive(relay) {
  return relay.exit === null;
}

function readLogAddresses(relay) {
  let text = '';
  try { text = fs.readFileSync(relay.log, 'utf8'); } catch (error) { return null; }
  const field = (key) => {
    const match = text.match(new RegExp(`"${key}":"([^"]+)"`));
    return match ? match[1] : null;
  };
  const listen = field('listen');
  const admin = field('admin');
  const peer = field('peer_listen');
  const member = field('member');
  if (!listen || !admin || !peer) return null;
  return { listen, admin, peer, member };
}

async function startRelay() {
  const name = `relay${++relayCount}`;
  const logPath = path.join(setup.work, `${name}.log`);
  const fd = fs.openSync(logPath, 'a');
  const child = spawn(setup.relayBin, [
    '--config', setup.relayConfig, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0',
    '--upstream', `http://${setup.fixture}`, '--log-level', 'notice',
  ], { stdio: ['ignore', 'ignore', fd] });
  fs.closeSync(fd);
  fs.appendFileSync(path.join(setup.work, 'relays.pids'), `${child.pid}\n`);
  const relay = { name, pid: child.pid, child, log: logPath, exit: null, startedAt: Date.now() };
  relay.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      relay.exit = { code, signal, at: Date.now() };
      resolve(relay.exit);
    });
  });
  relays.push(relay);
  const addresses = await poll(`${name}'s listening lines in its log`, () => {
    if (relay.exit) throw new Error(`${name} exited at start: ${JSON.stringify(relay.exit)}`);
    return readLogAddresses(relay);
  });
  Object.assign(relay, addresses);
  // Ready, and in the directory (not degraded).
  await poll(`${name}'s /readyz to say ready`, async () => {
    const readyz = await getText(relay.admin, '/readyz').catch(() => null);
    return readyz && readyz.status === 200 && readyz.body === 'ready\n';
  });
  relay.readyMs = Date.now() - relay.startedAt;
  return relay;
}

// Points an HAProxy slot at `relay` and takes it out of maintenance.
async function putInSlot(slot, relay) {
  const [host, port] = relay.listen.split(':');
  const changed = await haproxy(`set server ${BACKEND}/${slot} addr ${host} port ${port}`);
  const ready = await haproxy(`set server ${BACKEND}/${slot} state ready`);
  const states = await slotStates();
  if (!states[slot] || states[slot].port !== Number(port) || (states[slot].admin & 1) !== 0) {
    throw new Error(`HAProxy slot ${slot} did not take ${relay.name} (${relay.listen}): ` +
      `${JSON.stringify(states[slot])}; answers ${JSON.stringify(changed)} ${JSON.stringify(ready)}`);
  }
  slotHolder[slot] = relay;
  relay.slot = slot;
}

// Which live relay holds which conversation: {conversation: relay name}, from each relay's
// GET /streams (the generations it serves; a forwarding relay has none).
async function holders(liveRelays, prefix) {
  const where = {};
  for (const relay of liveRelays) {
    const report = await getJSON(relay.admin, '/streams');
    for (const g of report.generations) {
      const conversation = g.parameters.conversationId;
      if (!conversation.startsWith(prefix) || (g.state !== 'active' && g.state !== 'lingering')) continue;
      where[conversation] = where[conversation] ? `${where[conversation]},${relay.name}` : relay.name;
    }
  }
  return where;
}

// ---- metrics ----------------------------------------------------------------------------

async function metricsOf(relay) {
  const { body } = await getText(relay.admin, '/metrics');
  return parseMetrics(body);
}

// The last /metrics of every relay, taken before it is stopped or killed (and, for those alive,
// before the database goes away in phase 6): the claim latency figure sums their histograms.
const lastMetrics = {};
async function snapshot(relay) {
  if (!alive(relay)) return;
  try { lastMetrics[relay.name] = await metricsOf(relay); } catch (error) { /* it may be going */ }
}

// ---- the fixture ----------------------------------------------------------------------------

const startsOf = (conversations) => support.startsOf(setup.fixture, conversations);

// ---- an EventSource-like client -----------------------------------------------------------

// Delivery latency of live events (stamped by the backend after the client's response head
// arrived, so no backlog), split by the number of relays on the way (Via hops).
const latency = { direct: [], forwarded: [] };

class Client {
  constructor(conversation, query) {
    this.conversation = conversation;
    this.path = `/api/conversation/${encodeURIComponent(conversation)}/stream?${query}`;
    this.retryMs = 3000; // EventSource's usual default until the server says otherwise
    this.lastEventId = '';
    this.responses = []; // one per request: {sentId, status, mode, hops, slot, relay, events, comments}
    this.tokens = []; // token numbers in arrival order, over every response
    this.cuts = 0; // connections this test cut
    this.breaks = 0; // connections that broke without the test cutting them (not a clean end)
    this.closed = false; // stopped for good (204, non-200, or close())
    this.open = false;
    this.cutAfter = 0; // when > 0: cut the connection once the current response has this many events
  }

  get current() {
    return this.responses[this.responses.length - 1];
  }

  connect() {
    if (this.closed) return;
    const [host, port] = setup.haproxy.split(':');
    const headers = { Accept: 'text/event-stream', 'Cache-Control': 'no-cache' };
    if (this.lastEventId) headers['Last-Event-ID'] = this.lastEventId;
    const response = { sentId: this.lastEventId, status: null, mode: null, hops: 0, slot: null, relay: null,
      events: 0, comments: [], at: Date.now() };
    this.responses.push(response);
    const req = http.get({ host, port: Number(port), path: this.path, headers, agent: false });
    this.req = req;
    let finished = false;
    const lost = (how) => {
      if (finished) return;
      finished = true;
      this.open = false;
      if (how === 'cut') this.cuts++;
      else if (how === 'broken') this.breaks++;
      if (this.closed) return;
      this.timer = setTimeout(() => this.connect(), this.retryMs);
    };
    this.lose = lost;
    req.on('error', () => lost(this.cutting ? 'cut' : 'broken'));
    req.on('close', () => lost(this.cutting ? 'cut' : 'broken'));
    req.on('response', (res) => {
      response.status = res.statusCode;
      response.headAt = Date.now();
      response.slot = res.headers['x-served-by'] || null;
      response.relay = response.slot && slotHolder[response.slot] ? slotHolder[response.slot].name : null;
      const via = res.headers.via;
      response.hops = via ? String(via).split(',').length : 0;
      const type = String(res.headers['content-type'] || '');
      if (res.statusCode !== 200 || !type.startsWith('text/event-stream')) {
        // 204 ends the stream for good; anything else fails an EventSource for good too.
        finished = true;
        this.closed = true;
        res.resume();
        return;
      }
      this.open = true;
      response.mode = res.headers['x-sse-relay'] || '-';
      this.parse(res, response);
      res.on('end', () => lost(this.cutting ? 'cut' : 'ended'));
      res.on('aborted', () => lost(this.cutting ? 'cut' : 'broken'));
      res.on('error', () => lost(this.cutting ? 'cut' : 'broken'));
    });
  }

  // Drops the connection as a network would: the client reconnects after its retry time.
  cut() {
    if (!this.open || this.closed) return false;
    this.cutting = true;
    this.req.destroy();
    this.lose('cut');
    this.cutting = false;
    return true;
  }

  parse(res, response) {
    let pending = '';
    let data = null;
    let id = null;
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      if (this.cutting || response !== this.current) return;
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        let line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {
          // Dispatch: the last event id is set even by an id-only block.
          if (id !== null) this.lastEventId = id;
          if (data !== null) this.onEvent(data, response);
          data = null;
          id = null;
          if (this.cutAfter > 0 && response.events >= this.cutAfter && this.open) {
            this.cutAfter = 0;
            this.cut();
            return;
          }
          continue;
        }
        if (line.startsWith(':')) {
          if (line.length > 1) response.comments.push(line.slice(1).trim());
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data = data === null ? value : `${data}\n${value}`;
        else if (field === 'id' && !value.includes('\0')) id = value;
        else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
      }
    });
  }

  onEvent(data, response) {
    response.events++;
    const match = data.match(/^token (\d+) of \S+(?: t=(\d+))?/);
    if (!match) return;
    this.tokens.push(Number(match[1]));
    if (match[2] && Number(match[2]) > response.headAt && response.hops > 0) {
      latency[response.hops >= 2 ? 'forwarded' : 'direct'].push(Date.now() - Number(match[2]));
    }
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.req) this.req.destroy();
  }

  get events() {
    return this.tokens.length;
  }

  // Token numbers 1, 2, 3, … with no gap and no repeat.
  contiguous() {
    return this.tokens.every((token, i) => token === i + 1);
  }

  // How often the token numbering started over at 1: a second completion the user would see.
  restarts() {
    return this.tokens.filter((token, i) => token === 1 && i > 0).length;
  }

  // The tokens since the numbering last started at 1: 1, 2, 3, … with no gap and no repeat.
  contiguousSinceRestart() {
    const from = this.tokens.lastIndexOf(1);
    return from >= 0 && this.tokens.slice(from).every((token, i) => token === i + 1);
  }

  describe() {
    return `${this.conversation}: tokens ${summarizeTokens(this.tokens)}; responses ` +
      this.responses.map((r) => `${r.status}/${r.mode || '-'}/${r.hops}hop/${r.relay || r.slot || '?'}` +
        `${r.sentId ? `/L=${r.sentId}` : ''}${r.comments.length ? `/${JSON.stringify(r.comments)}` : ''}`).join(' ');
  }
}

// "1-40" or "1-12,1-30" for a token list, to keep FAIL lines short.
function summarizeTokens(tokens) {
  const runs = [];
  for (const token of tokens) {
    const run = runs[runs.length - 1];
    if (run && token === run[1] + 1) run[1] = token;
    else runs.push([token, token]);
  }
  return runs.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',') || '(none)';
}

function openClients(prefix, count, perConversation, query) {
  const conversations = Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);
  const clients = [];
  // Interleaved (a1 b1 c1 … a2 b2 …), all at once: the clients of one conversation race, and
  // round-robin sends them to different relays.
  for (let i = 0; i < perConversation; i++) {
    for (const conversation of conversations) clients.push(new Client(conversation, query));
  }
  for (const client of clients) client.connect();
  return { conversations, clients };
}

// Every client's whole stream (tokens 1..events once each, in order), ended with a 204 on a
// reconnect that carried the end marker. One FAIL line per kind of failure, with examples.
function checkComplete(phase, clients, events) {
  const incomplete = clients.filter((c) => !(c.tokens.length === events && c.contiguous()));
  check(incomplete.length === 0, `${phase}: ${incomplete.length} of ${clients.length} clients did not get events ` +
    `1-${events} exactly once in order; e.g. ${incomplete.slice(0, 3).map((c) => c.describe()).join(' | ')}`);
  const unended = clients.filter((c) => !(c.current.status === 204 && /\.end$/.test(c.current.sentId)));
  check(unended.length === 0, `${phase}: ${unended.length} of ${clients.length} clients' reconnect after the end ` +
    `did not get 204 for an end marker; e.g. ${unended.slice(0, 3).map((c) => c.describe()).join(' | ')}`);
}

// One check over many clients: the FAIL line counts the clients that fail it, with examples.
function checkEach(phase, clients, predicate, what) {
  const bad = clients.filter((c) => !predicate(c));
  return check(bad.length === 0, `${phase}: ${bad.length} of ${clients.length} clients ${what}; e.g. ` +
    bad.slice(0, 3).map((c) => c.describe()).join(' | '));
}

function checkStarts(phase, starts, expected) {
  const wrong = Object.entries(starts).filter(([, count]) => count !== expected);
  check(wrong.length === 0, `${phase}: ${wrong.length} of ${Object.keys(starts).length} conversations did not start ` +
    `exactly ${expected === 1 ? 'once' : `${expected} times`}: ${wrong.map(([c, n]) => `${c} ${n}x`).join(', ')}`);
}

const modesOf = (clients, which = 0) => clients.map((c) => (c.responses[which] || {}).mode);
const countOf = (list, value) => list.filter((x) => x === value).length;

// ---- the scenario -------------------------------------------------------------------------

const figures = {};

// Runs one phase; a wait that times out or an error fails the phase (a FAIL line) and the
// scenario goes on with the next one.
async function runPhase(name, body) {
  try {
    await body();
  } catch (error) {
    check(false, `${name} stopped: ${error.message}`);
  }
}

async function main() {
  // Three relays in slots 1-3 (slot 4 stays in maintenance until phase 3).
  for (const slot of setup.slots.slice(0, 3)) {
    const relay = await startRelay();
    await putInSlot(slot, relay);
  }
  log(`relays: ${relays.map((r) => `${r.name} ${r.slot} listen ${r.listen} peer ${r.peer} admin ${r.admin} ` +
    `(ready after ${r.readyMs} ms)`).join('; ')}`);

  // Phase 1: 30 clients on 10 conversations, concurrently, 2 s streams.
  await runPhase('phase 1', async () => {
    const mark = failures.length;
    const p1 = openClients('c1', 10, 3, 'events=40&interval=50&stamp=1');
    await poll('every phase-1 client to get its 40 events, then 204', () => p1.clients.every((c) => c.closed),
      { tries: 150 });
    const starts1 = await startsOf(p1.conversations);
    checkStarts('phase 1', starts1, 1);
    checkComplete('phase 1', p1.clients, 40);
    const modes1 = modesOf(p1.clients);
    const forwarded1 = p1.clients.filter((c) => c.responses[0].hops === 2).length;
    check(countOf(modes1, 'started') === 10 && countOf(modes1, 'joined') === 20,
      `phase 1: expected 10 started + 20 joined responses, got ${countOf(modes1, 'started')} + ` +
      `${countOf(modes1, 'joined')}`);
    check(forwarded1 > 0, 'phase 1: no client was forwarded to another relay (is HAProxy round-robin?)');
    const viaRelays1 = new Set(p1.clients.map((c) => c.responses[0].relay));
    check(viaRelays1.size === 3, `phase 1: clients reached ${viaRelays1.size} relays, expected 3`);
    verdict('phase 1', mark, `30 clients on 10 conversations through round-robin: ${sum(Object.values(starts1))} ` +
      `upstream starts, every client 40/40 events in order then 204; ${forwarded1} clients forwarded ` +
      `(Via 2 hops), ${30 - forwarded1} direct`);
  });

  // Phase 2: every client cut after 3-12 events of its stream; it reconnects (after retry:)
  // through round-robin with its Last-Event-ID, so usually through another relay.
  await runPhase('phase 2', async () => {
    const mark = failures.length;
    const p2 = openClients('c2', 10, 3, 'events=60&interval=50&stamp=1');
    p2.clients.forEach((client, i) => { client.cutAfter = 3 + (i % 10); });
    await poll('every phase-2 client to get its 60 events, then 204', () => p2.clients.every((c) => c.closed),
      { tries: 150 });
    const starts2 = await startsOf(p2.conversations);
    checkStarts('phase 2', starts2, 1);
    checkComplete('phase 2', p2.clients, 60);
    checkEach('phase 2', p2.clients,
      (c) => c.cuts === 1 && c.responses.length === 3 && c.responses[1].mode === 'resumed',
      'did not go: cut, reconnect resumed, 204');
    const resumedForwarded2 = p2.clients.filter((c) => c.responses[1] && c.responses[1].hops === 2).length;
    verdict('phase 2', mark, `30 clients cut mid-stream reconnected with Last-Event-ID: all resumed ` +
      `(${resumedForwarded2} through another relay, forwarded to the holder), remaining events once each, ` +
      `${sum(Object.values(starts2))} starts for 10 conversations`);
  });

  // Phase 3: a fourth relay joins while 10 conversations stream; then every client is cut and
  // reconnects through round-robin over four relays.
  await runPhase('phase 3', async () => {
    const mark = failures.length;
    const p3 = openClients('c3', 10, 3, 'events=80&interval=50&stamp=1');
    await poll('every phase-3 client to get 5 events', () => p3.clients.every((c) => c.events >= 5));
    const relay4 = await startRelay();
    await putInSlot(setup.slots[3], relay4);
    log(`phase 3: ${relay4.name} started (ready after ${relay4.readyMs} ms) and put in ${relay4.slot} mid-stream`);
    for (const client of p3.clients) client.cut();
    await poll('every phase-3 client to get its 80 events, then 204', () => p3.clients.every((c) => c.closed),
      { tries: 150 });
    const starts3 = await startsOf(p3.conversations);
    checkStarts('phase 3', starts3, 1);
    checkComplete('phase 3', p3.clients, 80);
    checkEach('phase 3', p3.clients, (c) => c.responses[1] && c.responses[1].mode === 'resumed',
      'did not resume on the reconnect after the cut');
    const throughNew = p3.clients.filter((c) => c.responses[1] && c.responses[1].relay === relay4.name).length;
    check(throughNew > 0, `phase 3: no reconnect went through the new relay ${relay4.name}`);
    verdict('phase 3', mark, `${relay4.name} added mid-stream; all 30 clients cut and resumed ` +
      `(${throughNew} through ${relay4.name}); ${sum(Object.values(starts3))} starts for 10 conversations`);
  });

  // Phase 4: rolling restart. Each relay in turn: SIGTERM, a replacement starts and takes its
  // slot. Meanwhile, until the streams are about to end, clients are cut at random and
  // reconnect with Last-Event-ID: a drained relay must keep holding (renewing) its keys for as
  // long as it serves them, well past leaseSeconds here, or a reconnect through another relay
  // claims the key and starts the conversation again.
  await runPhase('phase 4', async () => {
    const mark = failures.length;
    const rollEvents = 200; // 10 s streams: the rolling restart, then more than leaseSeconds of cuts
    const p4 = openClients('c4', 10, 3, `events=${rollEvents}&interval=50&stamp=1`);
    await poll('every phase-4 client to get 5 events', () => p4.clients.every((c) => c.events >= 5));
    const holders4 = await holders(setup.slots.map((s) => slotHolder[s]), 'c4-');
    let chaosCuts = 0;
    const nearEnd = (c) => c.closed || c.events >= rollEvents - 10;
    const chaosLoop = (async () => {
      for (let round = 0; round < 200 && !p4.clients.every(nearEnd); round++) {
        await sleep(250);
        const open = p4.clients.filter((c) => c.open && !nearEnd(c));
        for (let i = 0; i < 3 && open.length > 0; i++) {
          const pick = open.splice((round * 7 + i * 13) % open.length, 1)[0];
          if (pick.cut()) chaosCuts++;
        }
      }
    })();
    const drained = [];
    for (const slot of setup.slots) {
      const old = slotHolder[slot];
      old.held = Object.values(holders4).filter((h) => h === old.name).length;
      await snapshot(old);
      old.termAt = Date.now();
      process.kill(old.pid, 'SIGTERM');
      drained.push(old);
      const replacement = await startRelay();
      await putInSlot(slot, replacement);
      log(`phase 4: SIGTERM ${old.name} (holding ${old.held} conversations); ${replacement.name} ready after ` +
        `${replacement.readyMs} ms, in ${slot}`);
      await sleep(500);
    }
    // Two renewal intervals and more after the last SIGTERM, and past leaseSeconds after the
    // first: each drained relay still serves its streams, so it must still renew their leases.
    await sleep(Math.max(2500, LEASE_SECONDS * 1000 + 500 - (Date.now() - drained[0].termAt)));
    for (const relay of drained) {
      if (!alive(relay)) continue;
      const now = await metricsOf(relay).catch(() => null);
      if (!now) continue;
      // Leases renewed (one per key), and renewal statements: a relay that holds no key still
      // sends one each interval, which shows that its database connection outlived SIGTERM.
      const renewed = metricValue(now, 'sse_relay_cluster_lease_renewals_total') -
        metricValue(lastMetrics[relay.name], 'sse_relay_cluster_lease_renewals_total');
      const renewStatement = { statement: 'renew' };
      const statements = metricValue(now, 'sse_relay_cluster_directory_statements_total', renewStatement) -
        metricValue(lastMetrics[relay.name], 'sse_relay_cluster_directory_statements_total', renewStatement);
      const degraded = metricValue(now, 'sse_relay_cluster_degraded');
      const drainingFor = ((Date.now() - relay.termAt) / 1000).toFixed(1);
      const rows = (await sql(`SELECT count(*) FILTER (WHERE lease_until > now()), count(*) FROM sse_relay_directory ` +
        `WHERE owner = '${relay.member}'`)).split('|').map(Number);
      check(degraded === 0 && statements > 0 && (relay.held === 0 || renewed > 0),
        `phase 4: ${relay.name}, draining for ${drainingFor} s and holding ${relay.held} conversations, stopped ` +
        `renewing its leases: sse_relay_cluster_degraded ${degraded}, ${statements} renewal statements and ` +
        `${renewed} lease renewals since SIGTERM (its log: ${lastLogLine(relay, /directory|lease/)})`);
      check(rows[0] >= relay.held, `phase 4: the directory shows ${rows[0]} unexpired leases (of ${rows[1]} rows) of ` +
        `${relay.name}, which still serves ${relay.held} conversations ${drainingFor} s into its drain: other relays ` +
        `may claim them and start them again`);
    }
    await poll('every phase-4 client to get its events, then 204', () => p4.clients.every((c) => c.closed),
      { tries: 200 });
    await chaosLoop;
    const starts4 = await startsOf(p4.conversations);
    checkStarts('phase 4', starts4, 1);
    checkComplete('phase 4', p4.clients, rollEvents);
    const reconnects4 = p4.clients.flatMap((c) => c.responses.filter((r) => r.sentId && !/\.end$/.test(r.sentId)));
    const notResumed4 = reconnects4.filter((r) => r.mode !== 'resumed');
    check(notResumed4.length === 0, `phase 4: ${notResumed4.length} of ${reconnects4.length} mid-stream reconnects ` +
      `were not resumed: ` +
      notResumed4.slice(0, 5).map((r) => `${r.status}/${r.mode}/${r.relay}/L=${r.sentId}`).join(' '));
    const intoDraining = reconnects4.filter((r) => r.hops === 2).length;
    await poll('every drained relay to exit', () => drained.every((r) => !alive(r)), { tries: 150 });
    for (const relay of drained) {
      check(relay.exit.code === 0 && relay.exit.signal === null,
        `phase 4: drained ${relay.name} exited ${JSON.stringify(relay.exit)}, expected code 0`);
      const left = Number(await sql(`SELECT count(*) FROM sse_relay_directory WHERE owner = '${relay.member}'`));
      check(left === 0, `phase 4: ${relay.name} exited leaving ${left} leases of its own in the directory, expected ` +
        `it to release them (its log: ${lastLogLine(relay, /release|lease/)})`);
    }
    const drainSeconds = drained.map((r) => ((r.exit.at - r.termAt) / 1000).toFixed(1));
    verdict('phase 4', mark, `rolling restart of ${drained.map((r) => r.name).join(', ')} under ${chaosCuts} random ` +
      `cuts: ${reconnects4.length} mid-stream reconnects all resumed (${intoDraining} forwarded), every client ` +
      `${rollEvents}/${rollEvents} events then 204 on the end marker, ${sum(Object.values(starts4))} starts for 10 ` +
      `conversations; drained relays kept renewing, released their leases and exited 0 after ` +
      `${drainSeconds.join(', ')} s`);
    figures.rollingRestart = { drained: drained.map((r) => r.name), chaosCuts, reconnects: reconnects4.length,
      forwardedReconnects: intoDraining, drainedExitSeconds: drainSeconds.map(Number) };
  });

  // Phase 5: SIGKILL the relay holding the most conversations, mid-stream.
  await runPhase('phase 5', async () => {
    const mark = failures.length;
    const live5 = setup.slots.map((s) => slotHolder[s]);
    const p5 = openClients('c5', 10, 3, 'events=400&interval=50&stamp=1');
    await poll('every phase-5 client to get 5 events', () => p5.clients.every((c) => c.events >= 5));
    const holders5 = await holders(live5, 'c5-');
    check(p5.conversations.every((c) => holders5[c] && !holders5[c].includes(',')),
      `phase 5: each conversation should have one generation on one relay: ${JSON.stringify(holders5)}`);
    const count5 = (relay) => p5.conversations.filter((c) => holders5[c] === relay.name).length;
    const victim = live5.slice().sort((a, b) => count5(b) - count5(a))[0];
    const lost = p5.conversations.filter((c) => holders5[c] === victim.name);
    const kept = p5.conversations.filter((c) => holders5[c] !== victim.name);
    check(lost.length > 0 && kept.length > 0, `phase 5: the victim holds ${lost.length} of 10 conversations`);
    const lostClients = p5.clients.filter((c) => lost.includes(c.conversation));
    const keptClients = p5.clients.filter((c) => kept.includes(c.conversation));
    // A kept conversation's client whose connection went through the victim (forwarded by it to
    // the holder) loses that connection too, and must resume.
    const throughVictim = keptClients.filter((c) => c.current.relay === victim.name);
    const before = new Map(keptClients.map((c) => [c, c.events]));
    await snapshot(victim);
    // When the victim's leases run out, by the database's clock (the same host's): read just
    // before the kill, so a renewal in between only makes the real expiry later.
    const leaseEnds = Number(await sql(`SELECT coalesce(floor(extract(epoch FROM min(lease_until)) * 1000), 0) ` +
      `FROM sse_relay_directory WHERE owner = '${victim.member}'`));
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    check(leaseEnds > killedAt, `phase 5: the directory shows no unexpired lease of ${victim.name}, which holds ` +
      `${lost.length} conversations, at the kill`);
    log(`phase 5: SIGKILL ${victim.name} holding ${lost.length} conversations (${lost.join(' ')}); ` +
      `${throughVictim.length} clients of other conversations were forwarded through it`);
    // When did each lost conversation start again? Polled every 100 ms.
    const restartedAt = {};
    await poll('the lost conversations to start again and their clients to get 5 events of it', async () => {
      const starts = await startsOf(lost);
      for (const c of lost) if (starts[c] >= 2 && !restartedAt[c]) restartedAt[c] = Date.now() - killedAt;
      return lost.every((c) => restartedAt[c]) && lostClients.every((c) => c.restarts() >= 1 &&
        c.tokens.length - c.tokens.lastIndexOf(1) >= 5);
    }, { tries: 150 });
    await sleep(1000);
    const starts5 = await startsOf(p5.conversations);
    for (const c of lost) {
      check(starts5[c] <= 2, `phase 5: lost ${c} started ${starts5[c]} times, expected at most 2`);
      // Nobody may claim it before the victim's lease ran out (the start is seen up to 100 ms
      // late, never early; 50 ms for the two clocks' readings).
      check(killedAt + restartedAt[c] >= leaseEnds - 50, `phase 5: lost ${c} started again ` +
        `${restartedAt[c]} ms after the kill, ${leaseEnds - killedAt - restartedAt[c]} ms before the lease of the ` +
        `killed relay ran out`);
    }
    checkEach('phase 5', lostClients, (c) => c.restarts() <= 1 && c.contiguousSinceRestart(),
      'of the lost conversations saw more than one restart, or a gap');
    const keptStarts = Object.fromEntries(kept.map((c) => [c, starts5[c]]));
    checkStarts('phase 5 (untouched)', keptStarts, 1);
    checkEach('phase 5', keptClients, (c) => c.contiguous(), 'of untouched conversations saw a gap, repeat or restart');
    checkEach('phase 5', keptClients, (c) => c.events >= before.get(c) + 10,
      'of untouched conversations got fewer than 10 events after the kill');
    checkEach('phase 5', keptClients.filter((c) => throughVictim.includes(c)),
      (c) => c.responses.slice(1).some((r) => r.mode === 'resumed'),
      'of untouched conversations, forwarded through the killed relay, did not resume');
    checkEach('phase 5', keptClients.filter((c) => !throughVictim.includes(c)),
      (c) => c.responses.length === 1 && c.breaks === 0 && c.open,
      'of untouched conversations, not through the killed relay, lost their connection');
    const delays = lost.map((c) => restartedAt[c]).sort((a, b) => a - b);
    verdict('phase 5', mark, `SIGKILL ${victim.name}: its ${lost.length} conversations started once more each ` +
      `(${sum(lost.map((c) => starts5[c]))} starts), ${delays[0]}-${delays[delays.length - 1]} ms after the kill ` +
      `(lease ${LEASE_SECONDS} s, ran out ${leaseEnds - killedAt} ms after the kill); ${kept.length} untouched ` +
      `conversations: no new start, clients kept receiving ` +
      `(${throughVictim.length} forwarded through the victim resumed)`);
    figures.kill = { relay: victim.name, lost: lost.length, kept: kept.length, restartDelayMs: delays,
      leaseRanOutAfterMs: leaseEnds - killedAt,
      startsOfLost: sum(lost.map((c) => starts5[c])), throughVictim: throughVictim.length };
    for (const client of p5.clients) client.close();
  });

  // Phase 6: the database goes away, then comes back on the same port.
  await runPhase('phase 6', async () => {
    const mark = failures.length;
    const live6 = setup.slots.map((s) => slotHolder[s]).filter(alive);
    for (const relay of live6) await snapshot(relay);
    const stopAt = Date.now();
    await runScript(['deploy/postgres-throwaway.sh', 'stop', setup.pgDir]);
    const degradedOf = async (relay) => {
      const readyz = await getText(relay.admin, '/readyz');
      const degraded = metricValue(await metricsOf(relay), 'sse_relay_cluster_degraded');
      return { status: readyz.status, body: readyz.body.trim(), degraded };
    };
    await poll('every relay to say it is degraded', async () => {
      const states = await Promise.all(live6.map(degradedOf));
      return states.every((s) => s.status === 200 && s.body.startsWith('ready (degraded:') && s.degraded === 1);
    }, { tries: 100 });
    const degradedMs = Date.now() - stopAt;
    for (const relay of live6) {
      const text = fs.readFileSync(relay.log, 'utf8');
      check(text.includes('the cluster directory cannot be reached'),
        `phase 6: ${relay.name} did not log that the directory cannot be reached`);
    }
    const readyzDegraded = (await degradedOf(live6[0])).body;
    const p6 = openClients('c6', 5, 3, 'events=20&interval=50&stamp=1');
    await poll('every degraded-phase client to get its 20 events, then 204', () => p6.clients.every((c) => c.closed),
      { tries: 150 });
    const starts6 = await startsOf(p6.conversations);
    checkComplete('phase 6 (degraded)', p6.clients, 20);
    for (const [c, n] of Object.entries(starts6)) {
      check(n >= 1 && n <= 3, `phase 6: degraded ${c} started ${n} times, expected 1-3 (one per relay reached)`);
    }
    const resumeAt = Date.now();
    await runScript(['deploy/postgres-throwaway.sh', 'resume', setup.pgDir]);
    await poll('every relay to rejoin the directory', async () => {
      const states = await Promise.all(live6.map(degradedOf));
      return states.every((s) => s.status === 200 && s.body === 'ready' && s.degraded === 0);
    }, { tries: 150 });
    const rejoinMs = Date.now() - resumeAt;
    check(rejoinMs <= 5 * RENEW_SECONDS * 1000,
      `phase 6: the relays took ${rejoinMs} ms to rejoin, more than 5 renewal intervals`);
    for (const relay of live6) {
      const text = fs.readFileSync(relay.log, 'utf8');
      check(text.includes('the cluster directory answers again'),
        `phase 6: ${relay.name} did not log that the directory answers again`);
    }
    const p6b = openClients('c6-after', 1, 3, 'events=20&interval=50&stamp=1');
    await poll('the post-outage conversation\'s clients to get their 20 events, then 204',
      () => p6b.clients.every((c) => c.closed), { tries: 100 });
    const starts6b = await startsOf(p6b.conversations);
    checkStarts('phase 6 (after)', starts6b, 1);
    checkComplete('phase 6 (after)', p6b.clients, 20);
    const modes6b = modesOf(p6b.clients);
    check(countOf(modes6b, 'started') === 1 && countOf(modes6b, 'joined') === 2,
      `phase 6: after the outage expected 1 started + 2 joined, got ${modes6b.join(',')}`);
    const relays6b = new Set(p6b.clients.map((c) => c.responses[0].relay));
    verdict('phase 6', mark, `PostgreSQL stopped: all ${live6.length} relays degraded after ${degradedMs} ms ` +
      `(/readyz "${readyzDegraded}"), 5 new conversations served in full (${sum(Object.values(starts6))} starts: one ` +
      `per relay reached, the single-node cost); resumed: all back to "ready" and metric 0 after ${rejoinMs} ms; ` +
      `a new conversation's 3 clients through ${relays6b.size} relays: ${starts6b[p6b.conversations[0]]} start`);
    figures.outage = { degradedAfterMs: degradedMs, degradedStarts: starts6, rejoinAfterMs: rejoinMs };
  });

  // Figures: the claim latency from every relay's last histogram (healthy database only: taken
  // before phase 6), and the delivery latency of forwarded against direct clients.
  await runPhase('figures', async () => {
    const allMetrics = Object.values(lastMetrics);
    const claims = histogramOf(allMetrics, 'sse_relay_cluster_directory_seconds', { statement: 'claim' });
    const claimCount = (claims.find((b) => !Number.isFinite(b.le)) || { count: 0 }).count;
    const ms = (seconds) => Number((seconds * 1000).toFixed(3));
    figures.claimLatencyMs = { claims: claimCount, relays: allMetrics.length,
      p50: ms(histogramQuantile(claims, 0.5)), p99: ms(histogramQuantile(claims, 0.99)),
      method: 'estimated from sse_relay_cluster_directory_seconds_bucket{statement="claim"} summed over relays, ' +
        'linear interpolation inside the bucket' };
    figures.claimBuckets = claims.sort((a, b) => a.le - b.le).map((b) => `le=${b.le}:${b.count}`).join(" ");
    const counters = {};
    for (const [name, labelKey] of [['sse_relay_cluster_claims_total', 'outcome'],
      ['sse_relay_cluster_forwards_total', 'outcome'], ['sse_relay_cluster_peer_requests_total', 'outcome'],
      ['sse_relay_cluster_directory_statements_total', 'statement'], ['sse_relay_stream_requests_total', 'outcome']]) {
      counters[name] = {};
      for (const samples of allMetrics) {
        for (const s of samples) {
          if (s.name === name) counters[name][s.labels[labelKey]] = (counters[name][s.labels[labelKey]] || 0) + s.value;
        }
      }
    }
    figures.countersBeforeOutage = counters;
    const stats = (list) => {
      const sorted = list.slice().sort((a, b) => a - b);
      // The stamps are whole milliseconds: the mean (which averages the rounding out) shows a
      // difference below 1 ms that the quantiles cannot.
      return { events: sorted.length, mean: Number((sum(sorted) / sorted.length).toFixed(3)),
        p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] };
    };
    figures.deliveryLatencyMs = { direct: stats(latency.direct), forwarded: stats(latency.forwarded) };
    const delivery = figures.deliveryLatencyMs;
    delivery.extraForwardedP50 = delivery.forwarded.p50 - delivery.direct.p50;
    delivery.extraForwardedP99 = delivery.forwarded.p99 - delivery.direct.p99;
    delivery.extraForwardedMean = Number((delivery.forwarded.mean - delivery.direct.mean).toFixed(3));
    figures.seconds = Number(((Date.now() - started) / 1000).toFixed(1));
    log(`claim latency (estimated from the histogram's buckets, ${claimCount} claims on ${allMetrics.length} ` +
      `relays): p50 ${figures.claimLatencyMs.p50} ms, p99 ${figures.claimLatencyMs.p99} ms`);
    log(`delivery latency of live events, backend to client through HAProxy: direct (1 relay) ` +
      `p50 ${delivery.direct.p50} ms p99 ${delivery.direct.p99} ms mean ${delivery.direct.mean} ms ` +
      `(${delivery.direct.events} events); forwarded (2 relays) p50 ${delivery.forwarded.p50} ms ` +
      `p99 ${delivery.forwarded.p99} ms mean ${delivery.forwarded.mean} ms (${delivery.forwarded.events} events); ` +
      `forwarding adds ${delivery.extraForwardedMean} ms on average`);
    console.log(`FIGURES ${JSON.stringify(figures)}`);
    check(latency.direct.length > 100 && latency.forwarded.length > 100,
      `too few latency samples: ${latency.direct.length} direct, ${latency.forwarded.length} forwarded`);
  });
}

function stopRelays() {
  for (const relay of relays) {
    if (alive(relay)) {
      try { process.kill(relay.pid, 'SIGKILL'); } catch (error) { /* gone already */ }
    }
  }
}

const watchdog = setTimeout(() => {
  console.log('FAIL: the client script took longer than 140 s');
  stopRelays();
  process.exit(1);
}, 140000);

main().then(() => {
  clearTimeout(watchdog);
  stopRelays();
  if (failures.length > 0) {
    console.log(`${failures.length} assertion(s) failed`);
    process.exit(1);
  }
  console.log('all assertions hold');
  process.exit(0);
}, (error) => {
  console.log(`FAIL: ${error.message}`);
  stopRelays();
  process.exit(1);
});
