// The client side of deploy/test-scale-out.sh: SSE clients through HAProxy in front of three
// relays, the scenario (phases 1-5, see the shell script), the assertions and the figures.
// Node built-ins only.
//
// Usage (the shell script does this): node deploy/test-scale-out-clients.js SETUP_JSON
//   SETUP_JSON = {"haproxy": "127.0.0.1:P", "haproxySocket": "/path/admin.sock",
//                 "fixture": "127.0.0.1:P", "drainedFile": "/path/drained.pid",
//                 "relays": [{"name": "relay1", "pid": N, "listen": "127.0.0.1:P",
//                             "admin": "127.0.0.1:P"}, ...]}
//   drainedFile: where to write the pid of the relay phase 4 drains, whose exit status the
//   shell script checks.
//
// The clients behave like a browser's EventSource: they honour `retry:`, remember the last
// event id (priming id-only blocks included) and reconnect with Last-Event-ID after the
// response ends or the connection drops; a 204 or any other non-200 answer stops them.
// Exits 0 when every assertion holds, 1 otherwise; prints the figures either way.
'use strict';
const crypto = require('crypto');
const http = require('http');
const net = require('net');
const support = require('./lib/test-support');

const setup = JSON.parse(process.argv[2]);
const started = Date.now();
const failures = [];
const BACKEND = 'relays_by_conversation';

// ---- small helpers ----------------------------------------------------------------------

const { sleep, sum, percentile, reporter, poll, getText, getJSON } = support;
const { elapsed, log, check } = reporter(started, failures);
const fixtureStarts = (conversation) => support.fixtureStarts(setup.fixture, conversation);
const startsOf = (conversations) => support.startsOf(setup.fixture, conversations);

// HAProxy's runtime API: `show stat` as CSV, reduced to {server name: status} of one backend.
function haproxyStates(backend = BACKEND) {
  return new Promise((resolve, reject) => {
    let out = '';
    const socket = net.createConnection(setup.haproxySocket, () => socket.end('show stat\n'));
    socket.setTimeout(3000, () => socket.destroy(new Error('haproxy stats socket: timeout')));
    socket.on('data', (chunk) => { out += chunk; });
    socket.on('error', reject);
    socket.on('close', () => {
      const lines = out.split('\n').filter((line) => line.length > 0);
      if (lines.length === 0 || !lines[0].startsWith('# ')) return reject(new Error(`show stat: ${out}`));
      const columns = lines[0].slice(2).split(',');
      const [px, sv, st] = ['pxname', 'svname', 'status'].map((name) => columns.indexOf(name));
      const states = {};
      for (const line of lines.slice(1)) {
        const fields = line.split(',');
        if (fields[px] === backend && fields[sv] !== 'FRONTEND' && fields[sv] !== 'BACKEND') {
          states[fields[sv]] = fields[st];
        }
      }
      resolve(states);
    });
  });
}

// Which relay holds which conversation, from each live relay's GET /streams.
async function placement(relays) {
  const byRelay = {};
  for (const relay of relays) {
    const report = await getJSON(relay.admin, '/streams');
    byRelay[relay.name] = report.generations.map((g) => ({
      conversation: g.parameters.conversationId, state: g.state, clients: g.clients.length,
      keyHeaders: g.key_headers || [],
    }));
  }
  return byRelay;
}

async function startedTotal(relay) {
  const { body } = await getText(relay.admin, '/metrics');
  const match = body.match(/^sse_relay_upstream_streams_started_total (\d+)/m);
  return match ? Number(match[1]) : NaN;
}

// ---- an EventSource-like client -----------------------------------------------------------

const latencies = [];

class Client {
  constructor(conversation, query, index) {
    this.conversation = conversation;
    this.index = index;
    this.path = `/api/conversation/${encodeURIComponent(conversation)}/stream?${query}`;
    this.retryMs = 3000; // EventSource's usual default until the server says otherwise
    this.lastEventId = '';
    this.connects = 0;
    this.modes = []; // X-SSE-Relay of each 200 response
    this.statuses = [];
    this.events = 0;
    this.tokens = []; // token numbers in arrival order
    this.drops = 0; // connections that ended or broke while streaming
    this.closed = false; // stopped for good (204, non-200, or close())
    this.open = false;
    this.measure = false; // record delivery latency (only for live events, not backlogs)
  }

  connect() {
    if (this.closed) return;
    const [host, port] = setup.haproxy.split(':');
    // A trace context of its own on every request, as a traced browser app sends; HAProxy adds
    // an X-Request-ID of its own too. Neither may split a conversation's stream.
    const traceparent = `00-${crypto.randomBytes(16).toString('hex')}-${crypto.randomBytes(8).toString('hex')}-01`;
    const headers = { Accept: 'text/event-stream', 'Cache-Control': 'no-cache', traceparent };
    if (this.lastEventId) headers['Last-Event-ID'] = this.lastEventId;
    this.connects++;
    const req = http.get({ host, port: Number(port), path: this.path, headers, agent: false });
    this.req = req;
    let finished = false;
    const lost = () => {
      if (finished) return;
      finished = true;
      this.open = false;
      if (this.closed) return;
      this.drops++;
      this.timer = setTimeout(() => this.connect(), this.retryMs);
    };
    req.on('error', lost);
    req.on('response', (res) => {
      this.statuses.push(res.statusCode);
      const type = String(res.headers['content-type'] || '');
      if (res.statusCode !== 200 || !type.startsWith('text/event-stream')) {
        // 204 ends the stream for good; anything else fails an EventSource for good too.
        finished = true;
        this.closed = true;
        res.resume();
        return;
      }
      this.open = true;
      this.modes.push(res.headers['x-sse-relay'] || '-');
      this.parse(res);
      res.on('end', lost);
      res.on('aborted', lost);
      res.on('close', lost);
      res.on('error', lost);
    });
  }

  parse(res) {
    let pending = '';
    let data = null;
    let id = null;
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        let line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {
          // Dispatch: the last event id is set even by an id-only block.
          if (id !== null) this.lastEventId = id;
          if (data !== null) this.onEvent(data);
          data = null;
          id = null;
          continue;
        }
        if (line.startsWith(':')) continue;
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

  onEvent(data) {
    this.events++;
    const match = data.match(/^token (\d+) of \S+(?: t=(\d+))?/);
    if (!match) return;
    this.tokens.push(Number(match[1]));
    if (match[2] && this.measure) latencies.push(Date.now() - Number(match[2]));
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.req) this.req.destroy();
  }

  // Token numbers 1, 2, 3, … with no gap and no repeat.
  contiguous() {
    return this.tokens.every((token, i) => token === i + 1);
  }

  // How often the token numbering started over at 1: a second completion the user would see.
  restarts() {
    return this.tokens.filter((token, i) => token === 1 && i > 0).length;
  }
}

function openClients(conversations, perConversation, query) {
  const clients = [];
  // Interleaved (a1 b1 c1 … a2 b2 …), all at once: the clients of one conversation race.
  for (let i = 0; i < perConversation; i++) {
    for (const conversation of conversations) clients.push(new Client(conversation, query, i));
  }
  for (const client of clients) client.connect();
  return clients;
}

// ---- the scenario -------------------------------------------------------------------------

async function main() {
  const relays = setup.relays;
  const relayByName = Object.fromEntries(relays.map((r) => [r.name, r]));

  await poll('HAProxy to see all three relays UP', async () => {
    const states = await haproxyStates();
    return relays.every((r) => states[r.name] === 'UP');
  });
  log('HAProxy sees relay1..3 UP');

  // Phase 1: 30 clients on 10 conversations, concurrently; long streams (50 ms per event,
  // 100 s in all) so they are all still running when a relay is lost.
  const first = Array.from({ length: 10 }, (_, i) => `conv-${i + 1}`);
  const longQuery = 'events=2000&interval=50&stamp=1';
  const phase1 = openClients(first, 3, longQuery);
  await poll('every phase-1 client to receive 5 events', () => phase1.every((c) => c.events >= 5));
  const starts1 = await startsOf(first);
  const total1 = sum(Object.values(starts1));
  log(`phase 1: ${phase1.length} clients on ${first.length} conversations, upstream starts ${total1}`);
  check(total1 === 10, `phase 1: expected exactly 10 upstream starts, got ${total1} (${JSON.stringify(starts1)})`);
  for (const c of first) check(starts1[c] === 1, `phase 1: ${c} started ${starts1[c]} times`);
  const modes1 = phase1.map((c) => c.modes[0]);
  const startedModes = modes1.filter((m) => m === 'started').length;
  const joinedModes = modes1.filter((m) => m === 'joined').length;
  check(startedModes === 10 && joinedModes === 20,
    `phase 1: expected 10 started + 20 joined responses, got ${startedModes} + ${joinedModes}`);

  const place1 = await placement(relays);
  const home = {}; // conversation -> relay name
  for (const [name, generations] of Object.entries(place1)) {
    for (const g of generations) {
      check(home[g.conversation] === undefined,
        `phase 1: ${g.conversation} has generations on ${home[g.conversation]} and ${name}`);
      home[g.conversation] = name;
      check(g.clients === 3, `phase 1: ${g.conversation} on ${name} has ${g.clients} clients, expected 3`);
      check(!g.keyHeaders.some((h) => ['x-request-id', 'traceparent', 'x-forwarded-for'].includes(h)),
        `phase 1: ${g.conversation}'s key includes a per-request header: ${g.keyHeaders.join(', ')}`);
    }
  }
  check(first.every((c) => home[c]), 'phase 1: some conversation is on no relay');
  const distribution1 = Object.fromEntries(relays.map((r) => [r.name, first.filter((c) => home[c] === r.name)]));
  for (const r of relays) {
    log(`  ${r.name}: ${distribution1[r.name].length} conversations (${distribution1[r.name].join(' ')})`);
  }

  // Phase 2: lose a relay that holds conversations while the others hold some too. SIGKILL,
  // not SIGTERM: this is the crash (OOM kill, host loss) case. SIGTERM would drain instead
  // (/readyz 503, running streams continue to their end), which is the planned-restart path
  // of docs/scale-out.md, not instance loss.
  const candidates = relays
    .filter((r) => distribution1[r.name].length > 0 && distribution1[r.name].length < first.length)
    .sort((a, b) => distribution1[b.name].length - distribution1[a.name].length);
  if (candidates.length === 0) throw new Error('the hash put all 10 conversations on one relay; nothing to test');
  const victim = candidates[0];
  const survivors = relays.filter((r) => r !== victim);
  const lostConversations = distribution1[victim.name];
  const keptConversations = first.filter((c) => !lostConversations.includes(c));
  const keptClients = phase1.filter((c) => keptConversations.includes(c.conversation));
  const lostClients = phase1.filter((c) => lostConversations.includes(c.conversation));
  const upstreamStarted = { [victim.name]: await startedTotal(victim) };
  const before = new Map(keptClients.map((c) => [c, c.events]));
  for (const client of keptClients) client.measure = true;

  const killedAt = Date.now();
  process.kill(victim.pid, 'SIGKILL');
  log(`phase 2: SIGKILL ${victim.name} (pid ${victim.pid}) holding ${lostConversations.length} conversations`);
  await poll(`HAProxy to mark ${victim.name} DOWN`, async () => {
    const states = await haproxyStates();
    return String(states[victim.name] || '').startsWith('DOWN');
  });
  const detectionMs = Date.now() - killedAt;
  log(`  HAProxy marked ${victim.name} DOWN after ${detectionMs} ms`);

  // The lost clients reconnect on their own (retry: 2000) with their Last-Event-ID; the hash
  // sends them to a surviving relay, which has never seen that generation.
  await poll('the lost clients to reconnect and receive 5 events again', () =>
    lostClients.every((c) => c.open && c.connects >= 2 && c.tokens.length - c.tokens.lastIndexOf(1) >= 5),
  { tries: 100, everyMs: 100 });
  // Give the untouched streams a moment more, then compare.
  await sleep(500);
  for (const client of keptClients) client.measure = false;
  const starts2 = await startsOf(first);
  for (const c of keptConversations) {
    check(starts2[c] === 1, `phase 2: untouched ${c} was started ${starts2[c]} times`);
  }
  for (const client of keptClients) {
    check(client.connects === 1 && client.drops === 0 && client.open,
      `phase 2: a client of untouched ${client.conversation} lost its connection (connects ${client.connects})`);
    check(client.events >= before.get(client) + 10,
      `phase 2: a client of untouched ${client.conversation} got only ${client.events - before.get(client)} events since the loss`);
    check(client.contiguous(), `phase 2: a client of untouched ${client.conversation} saw a gap or a repeat`);
  }
  const lostStarts = sum(lostConversations.map((c) => starts2[c]));
  const lostRestarts = sum(lostClients.map((c) => c.restarts()));
  // Documented behaviour (docs/scale-out.md), not a goal: without shared state the relay that
  // takes over a lost conversation starts it again, once: its three clients land on the same
  // relay (consistent hash) and share the new generation.
  for (const c of lostConversations) {
    check(starts2[c] === 2, `phase 2: lost ${c} was started ${starts2[c]} times, expected 2 (one restart)`);
  }
  const place2 = await placement(survivors);
  const takenOverBy = {};
  for (const [name, generations] of Object.entries(place2)) {
    for (const g of generations) if (lostConversations.includes(g.conversation)) takenOverBy[g.conversation] = name;
  }
  log(`  untouched: ${keptConversations.length} conversations, ${keptClients.length} clients, starts still 1 each, ` +
    `each client +${Math.min(...keptClients.map((c) => c.events - before.get(c)))} events or more, no reconnect`);
  log(`  lost: ${lostConversations.length} conversations, ${lostClients.length} clients reconnected ` +
    `(${lostConversations.map((c) => `${c}→${takenOverBy[c] || '?'}`).join(' ')}), ` +
    `upstream starts ${lostStarts} (${lostConversations.length} restarts: the duplicate completion), ` +
    `${lostRestarts} client views restarted at token 1`);

  // Phase 3: 10 new conversations after the loss, 3 clients each, short streams (20 events).
  // Each stream ends; the clients reconnect with Last-Event-ID and must get 204, which only
  // the relay holding the finished generation can answer: proof that the reconnect reached it.
  const fresh = Array.from({ length: 10 }, (_, i) => `new-${i + 1}`);
  const phase3 = openClients(fresh, 3, 'events=20&interval=20&stamp=1');
  await poll('every new client to get all 20 events, then 204 on its reconnect',
    () => phase3.every((c) => c.closed), { tries: 100, everyMs: 100 });
  const starts3 = await startsOf(fresh);
  const total3 = sum(Object.values(starts3));
  for (const c of fresh) check(starts3[c] === 1, `phase 3: ${c} started ${starts3[c]} times`);
  for (const client of phase3) {
    check(client.events === 20 && client.contiguous(),
      `phase 3: a client of ${client.conversation} got ${client.events} events (${client.tokens.join(',')})`);
    check(client.statuses.join(',') === '200,204',
      `phase 3: a client of ${client.conversation} got statuses ${client.statuses.join(',')}, expected 200,204`);
  }
  const place3 = await placement(survivors);
  const distribution3 = Object.fromEntries(survivors.map((r) => [r.name,
    fresh.filter((c) => place3[r.name].some((g) => g.conversation === c))]));
  log(`phase 3: ${phase3.length} clients on ${fresh.length} new conversations, upstream starts ${total3}, ` +
    `all got 20/20 events and 204 on reconnect: ${phase3.every((c) => c.statuses.join(',') === '200,204')}`);
  for (const r of survivors) {
    log(`  ${r.name}: ${distribution3[r.name].length} new conversations (${distribution3[r.name].join(' ')})`);
  }
  check(total3 === 10, `phase 3: expected exactly 10 upstream starts, got ${total3}`);
  check(sum(Object.values(distribution3).map((list) => list.length)) === 10,
    'phase 3: not every new conversation is on a surviving relay');

  for (const r of survivors) upstreamStarted[r.name] = await startedTotal(r);
  log(`  sse_relay_upstream_streams_started_total: ${relays.map((r) => `${r.name} ${upstreamStarted[r.name]}` +
    (r === victim ? ' (before it was killed)' : '')).join(', ')}`);

  // Phase 4: a planned restart of one surviving relay. SIGTERM drains it: /readyz says 503, so
  // HAProxy takes it out, while the streams it serves run to their end on their connections;
  // then it exits 0 (checked by the shell script). After the end each EventSource reconnects,
  // and that reconnect reaches the other relay (docs/scale-out.md, "Rolling restarts").
  for (const client of [...phase1, ...phase3]) client.close();
  const third = Array.from({ length: 10 }, (_, i) => `drain-${i + 1}`);
  const drainEvents = 80; // 4 s streams, well past the ~1.2 s HAProxy needs to take the relay out
  const phase4 = openClients(third, 2, `events=${drainEvents}&interval=50`);
  await poll('every drain-phase client to receive 5 events', () => phase4.every((c) => c.events >= 5));
  const place4 = await placement(survivors);
  const where4 = {};
  for (const [name, generations] of Object.entries(place4)) {
    for (const g of generations) if (third.includes(g.conversation)) where4[g.conversation] = name;
  }
  const count4 = (r) => third.filter((c) => where4[c] === r.name).length;
  const drained = survivors.slice().sort((a, b) => count4(b) - count4(a))[0];
  const other = survivors.find((r) => r !== drained);
  const drainedConversations = third.filter((c) => where4[c] === drained.name);
  const otherConversations = third.filter((c) => where4[c] === other.name);
  const drainedClients = phase4.filter((c) => drainedConversations.includes(c.conversation));
  const otherClients = phase4.filter((c) => otherConversations.includes(c.conversation));
  check(drainedConversations.length > 0, 'phase 4: no drain-phase conversation on a surviving relay');
  const termAt = Date.now();
  process.kill(drained.pid, 'SIGTERM');
  require('fs').writeFileSync(setup.drainedFile, `${drained.pid}\n`);
  log(`phase 4: SIGTERM ${drained.name} (pid ${drained.pid}) serving ${drainedConversations.length} of ` +
    `${third.length} conversations (${drainedClients.length} clients, 4 s streams)`);
  await poll(`HAProxy to take ${drained.name} out`, async () => {
    const states = await haproxyStates();
    return String(states[drained.name] || '').startsWith('DOWN');
  });
  const outMs = Date.now() - termAt;
  const streamingWhenOut = drainedClients.filter((c) => c.open && c.connects === 1).length;
  log(`  /readyz 503: HAProxy took ${drained.name} out after ${outMs} ms, ` +
    `${streamingWhenOut} of its ${drainedClients.length} clients still streaming`);
  check(streamingWhenOut === drainedClients.length,
    `phase 4: only ${streamingWhenOut} of ${drainedClients.length} clients still streamed when HAProxy took the relay out`);
  const alive = (pid) => {
    try { process.kill(pid, 0); return true; } catch (error) { return error.code !== 'ESRCH'; }
  };
  await poll(`${drained.name} to exit after its streams ended`, () => !alive(drained.pid));
  const drainMs = Date.now() - termAt;
  for (const client of drainedClients) {
    // The length first: `every` holds for an empty list, so a client that got nothing passed.
    check(client.statuses[0] === 200 && client.tokens.length >= drainEvents &&
      client.tokens.slice(0, drainEvents).every((t, i) => t === i + 1),
      `phase 4: a client of drained ${client.conversation} did not get all ${drainEvents} events on its connection`);
  }
  log(`  ${drained.name} exited ${drainMs} ms after SIGTERM, every one of its clients got ${drainEvents}/${drainEvents} events`);
  // The reconnects after the end carry the end marker (`<generation>-<seq>.end`), so every one
  // gets 204: on the other relay for its own conversations, and also for the drained relay's,
  // which that relay never saw. No completion starts twice.
  await poll('the drain-phase reconnects after the end', () =>
    phase4.every((c) => c.closed), { tries: 100, everyMs: 100 });
  const starts4 = await startsOf(third);
  for (const c of third) check(starts4[c] === 1, `phase 4: ${c} started ${starts4[c]} times, expected 1`);
  for (const client of phase4) {
    check(client.statuses.join(',') === '200,204' && client.events === drainEvents && client.contiguous(),
      `phase 4: a client of ${client.conversation} got ${client.statuses.join(',')}, ${client.events} events`);
  }
  log(`  reconnects after the end: all ${phase4.length} clients got 204 (${drainedConversations.length} ` +
    `conversations of ${drained.name} answered by ${other.name} from the end marker); 0 duplicate completions`);
  for (const client of phase4) client.close();

  // Phase 5: no relay left. HAProxy answers the stream route itself with 200 + retry: (the
  // example's fail-open rule), so EventSource keeps retrying instead of giving up on a 503.
  process.kill(other.pid, 'SIGKILL');
  await poll('HAProxy to mark every relay DOWN', async () => {
    const states = await haproxyStates();
    return relays.every((r) => String(states[r.name] || '').startsWith('DOWN'));
  });
  const failOpen = await getText(setup.haproxy, '/api/conversation/conv-1/stream');
  check(failOpen.status === 200 && String(failOpen.headers['content-type']).startsWith('text/event-stream') &&
    /^retry: \d+\n/.test(failOpen.body),
  `phase 5: no relay up: expected 200 text/event-stream with retry:, got ${failOpen.status} ${JSON.stringify(failOpen.body)}`);
  log(`phase 5: all relays down: stream route answers ${failOpen.status} ${failOpen.headers['content-type']} ` +
    `${JSON.stringify(failOpen.body)}`);

  // Figures.
  const sorted = latencies.slice().sort((a, b) => a - b);
  const figures = {
    phase1: { clients: phase1.length, conversations: first.length, upstreamStarts: total1,
      distribution: Object.fromEntries(Object.entries(distribution1).map(([k, v]) => [k, v.length])) },
    loss: { relay: victim.name, signal: 'SIGKILL', haproxyDetectionMs: detectionMs,
      lostConversations: lostConversations.length, untouchedConversations: keptConversations.length,
      untouchedStartsAfter: sum(keptConversations.map((c) => starts2[c])), lostStartsAfter: lostStarts },
    phase3: { clients: phase3.length, conversations: fresh.length, upstreamStarts: total3,
      distribution: Object.fromEntries(Object.entries(distribution3).map(([k, v]) => [k, v.length])) },
    drain: { relay: drained.name, signal: 'SIGTERM', conversations: drainedConversations.length,
      clients: drainedClients.length, haproxyOutMs: outMs, exitedAfterMs: drainMs,
      startsAfterReconnect: sum(drainedConversations.map((c) => starts4[c])) },
    relayUpstreamStartsTotal: upstreamStarted,
    deliveryLatencyMs: { events: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] },
    seconds: Number(((Date.now() - started) / 1000).toFixed(1)),
  };
  console.log(`FIGURES ${JSON.stringify(figures)}`);
  // The example's "option http-no-delay": without it each event waits ~100 ms in HAProxy.
  check(figures.deliveryLatencyMs.p50 < 50,
    `live events took ${figures.deliveryLatencyMs.p50} ms (p50) from the backend to the client, expected < 50 ms`);
}

const watchdog = setTimeout(() => {
  console.log('FAIL: the client script took longer than 55 s');
  process.exit(1);
}, 50000);

main().then(() => {
  clearTimeout(watchdog);
  if (failures.length > 0) {
    console.log(`${failures.length} assertion(s) failed`);
    process.exit(1);
  }
  console.log('all assertions hold');
  process.exit(0);
}, (error) => {
  console.log(`FAIL: ${error.message}`);
  process.exit(1);
});
