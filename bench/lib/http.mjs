// One HTTP client for both sides of a latency ratio (node:http with keep-alive), so the comparison measures the
// servers, not two different client libraries.
import http from 'node:http';

const tcpAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const unixAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

export function request({ url, socketPath, path, method = 'GET', headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const target = url ? new URL(path, url) : undefined;
    const req = http.request(
      {
        method,
        path: target ? target.pathname + target.search : path,
        host: target?.hostname,
        port: target?.port,
        socketPath,
        agent: socketPath ? unixAgent : tcpAgent,
        headers: body ? { ...headers, 'content-length': Buffer.byteLength(body) } : headers,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
