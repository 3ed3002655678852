// node keepalive-get.js PORT TOTAL CONNECTIONS
// Sends TOTAL `GET /hello` requests over CONNECTIONS keep-alive connections to 127.0.0.1:PORT,
// one at a time per connection, and exits 0 once every response (status 200, a Content-Length
// body) is read; exits 1 on anything else. Node built-ins only.
'use strict';
const net = require('net');
const [port, total, connections] = process.argv.slice(2).map(Number);
const request = 'GET /hello HTTP/1.1\r\nHost: example.test\r\nUser-Agent: keepalive-get.js\r\nAccept: */*\r\n\r\n';
let unsent = total;
let answered = 0;
for (let c = 0; c < connections; c++) {
  const socket = net.connect(port, '127.0.0.1');
  let pending = '';
  const next = () => {
    if (unsent > 0) {
      unsent--;
      socket.write(request);
    } else {
      socket.end();
    }
  };
  socket.on('connect', next);
  socket.on('data', (data) => {
    pending += data.toString('latin1');
    // Bounded: each round takes one whole response off `pending` or waits for more bytes.
    for (;;) {
      const headEnd = pending.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const length = /content-length: *(\d+)/i.exec(pending.slice(0, headEnd));
      const end = headEnd + 4 + (length ? Number(length[1]) : 0);
      if (pending.length < end) return;
      if (!pending.startsWith('HTTP/1.1 200')) {
        console.error(`unexpected response: ${pending.slice(0, 80)}`);
        process.exit(1);
      }
      pending = pending.slice(end);
      answered++;
      if (answered === total) process.exit(0);
      next();
    }
  });
  socket.on('error', (error) => {
    console.error(error.message);
    process.exit(1);
  });
}
