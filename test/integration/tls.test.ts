import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDataDir, removeDataDir, startTestAgent, type TestAgent } from '../helpers/agent.js';

let agent: TestAgent;
let cert: string;

beforeAll(async () => {
  const prepared = await prepareDataDir();
  const keyFile = path.join(prepared.dataDir, 'key.pem');
  const certFile = path.join(prepared.dataDir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  cert = execFileSync('cat', [certFile]).toString();
  agent = await startTestAgent({ tls: { certFile, keyFile } }, prepared, { skipReady: true, scheme: 'https' });
});

afterAll(async () => {
  await agent.stop();
  await removeDataDir(agent.dataDir);
});

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: cert, headers }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS listener', () => {
  it('serves /health and the authenticated API over https with the configured certificate', async () => {
    const health = await get(`${agent.url}/health`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body).status).toBe('healthy');
    const status = await get(`${agent.url}/api/status`, { authorization: `Bearer ${agent.token}` });
    expect(JSON.parse(status.body).online).toBe(true);
  });
});
