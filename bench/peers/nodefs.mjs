// Bare node:http with no framework and no agent code: GET pipes a read stream, PUT pipes into a write stream.
// The ceiling of Node's own HTTP stack on this machine, measured beside the agent.
import { createReadStream, createWriteStream, renameSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const [root, port, token] = process.argv.slice(2);
const CHUNK = { highWaterMark: 1024 * 1024 };
http
  .createServer(async (req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) return res.writeHead(401).end();
    const u = new URL(req.url, 'http://x');
    const p = path.join(root, path.normalize(`/${u.searchParams.get('path')}`));
    try {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-length': statSync(p).size });
        await pipeline(createReadStream(p, CHUNK), res);
      } else {
        await pipeline(req, createWriteStream(`${p}.part`, CHUNK));
        renameSync(`${p}.part`, p);
        res.end();
      }
    } catch (e) {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(e));
    }
  })
  .listen(Number(port), '127.0.0.1');
