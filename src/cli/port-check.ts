import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import type { AgentConfig } from '../config/schema.js';
import type { Check } from './doctor-report.js';

/**
 * doctor's check of the agent's port: free, or held by this node's running agent (which is fine), or by something
 * else. node:http as an ES module loads Node's bundled undici: only the doctor command may load this module.
 */

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port }, () => server.close(() => resolve(true)));
  });
}

/** GET /health on our own port: a running agent is who is expected to hold it. */
function probeHealth(config: AgentConfig): Promise<Record<string, unknown> | undefined> {
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host === '::' ? '::1' : config.host;
  const tls = Boolean(config.tls.certFile);
  const request = tls ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(
      // Identification only: the certificate may name a public host and be signed by anything.
      { host, port: config.port, path: '/health', method: 'GET', timeout: 2_000, rejectUnauthorized: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 64 * 1024) body += chunk;
        });
        res.on('end', () => {
          try {
            const parsed = JSON.parse(body) as unknown;
            resolve(parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined);
          } catch {
            resolve(undefined);
          }
        });
        res.on('error', () => resolve(undefined));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

export async function checkPort(config: AgentConfig): Promise<Check> {
  const where = `${config.host}:${config.port}`;
  if (await portFree(config.host, config.port)) return { name: 'port', status: 'ok', detail: `${where} is free` };
  const health = await probeHealth(config);
  if (health && typeof health.nodeId === 'string' && typeof health.version === 'string') {
    const ours = health.nodeId === config.nodeId;
    return {
      name: 'port',
      status: ours ? 'ok' : 'fail',
      detail: ours
        ? `${where} is held by this node's running agent (version ${health.version}, status ${String(health.status)})`
        : `${where} is held by an agent of another node (${health.nodeId})`,
      fix: 'give each agent its own port (AGENT_PORT) or stop the other one',
    };
  }
  return {
    name: 'port',
    status: 'fail',
    detail: `${where} is in use by something that is not an agent`,
    fix: `find it (ss -ltnp 'sport = :${config.port}') and stop it, or set AGENT_PORT`,
  };
}
