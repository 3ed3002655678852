// node joiners.js PORT PATH TOTAL AT_ONCE
// TOTAL clients GET PATH from 127.0.0.1:PORT, AT_ONCE connecting at a time, each with a
// browser's headers (a long User-Agent, a cookie); each closes once it has the response head
// and at least one event, and the next one connects. Exits 0 when all have; 1 on an error.
'use strict';
const net = require('net');
const [port, path, total, atOnce] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
const userAgent =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Extra';
const request =
  `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ${userAgent}\r\nAccept: text/event-stream\r\n` +
  'Cache-Control: no-cache\r\nCookie: session=abcdef0123456789; theme=dark\r\n' +
  'Accept-Language: en-US,en;q=0.9\r\n\r\n';
let started = 0;
let done = 0;
function join() {
  started++;
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.on('connect', () => socket.write(request));
  socket.on('data', (data) => {
    received += data.toString('latin1');
    if (received.includes('\r\n\r\n') && received.includes('data:')) {
      socket.destroy();
      done++;
      if (done === total) process.exit(0);
      if (started < total) join();
    }
  });
  socket.on('error', (error) => {
    console.error(error.message);
    process.exit(1);
  });
}
for (let i = 0; i < Math.min(atOnce, total); i++) join();
