// A minimal AI-style upstream for the proxy benchmark: reads the JSON body, answers a small JSON.
import { createServer } from 'node:http';
const port = Number(process.argv[2] ?? 0);
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const payload = JSON.stringify({ profanity: body.includes('바보'), bytes: body.length });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
    res.end(payload);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => console.log(`upstream listening ${server.address().port}`));
