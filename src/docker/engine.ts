import Docker from 'dockerode';
import type { AgentError } from '../errors.js';
import { DockerTimeoutError, toDockerAgentError } from './errors.js';

/**
 * Calls whose @types/dockerode signatures omit the options object that dockerode 5 accepts and forwards to
 * docker-modem (which turns `abortSignal` into the request's `signal`).
 */
interface SignalledCalls {
  ping(options: { abortSignal: AbortSignal }): Promise<unknown>;
  version(options: { abortSignal: AbortSignal }): Promise<Docker.DockerVersion>;
  info(options: { abortSignal: AbortSignal }): Promise<{ CgroupVersion?: string; BlkioWeight?: boolean }>;
}

export function createDockerClient(host: string | undefined): Docker {
  if (!host) return new Docker({ socketPath: '/var/run/docker.sock' });
  if (host.startsWith('unix://')) return new Docker({ socketPath: host.slice('unix://'.length) });
  if (host.startsWith('/')) return new Docker({ socketPath: host });
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' });
}

/** What the host's Engine offers that shapes a container's create options. */
export interface HostFacts {
  ioWeight: boolean;
}

/**
 * The Engine client and the one way to call it: bounded in time, aborting the request on the deadline, failures
 * mapped to catalogue errors. Every other module of src/docker calls through here.
 */
export class DockerEngine {
  constructor(
    readonly docker: Docker,
    readonly apiTimeoutMs: number,
  ) {}

  /**
   * Runs one Engine call with a deadline, mapping failures to catalogue errors. `fn` must hand the signal to
   * dockerode (`abortSignal`): on time-out it aborts the HTTP request, which destroys its socket. Racing a timer
   * alone only stopped waiting: against a hung Engine every timed-out call left its connection open, and the
   * health ping alone leaked one every few seconds (about 450 an hour). The race stays for what a signal cannot
   * end (progress parsing after a pull's response), so the deadline holds either way. The signal is only ever
   * aborted by the deadline, never after the call settled: attach and pull return streams that must outlive it.
   */
  async call<T>(what: string, fn: (abortSignal: AbortSignal) => Promise<T>, timeoutMs = this.apiTimeoutMs): Promise<T> {
    const controller = new AbortController();
    const timeout = new DockerTimeoutError(what, timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn(controller.signal),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            controller.abort(timeout);
            reject(timeout);
          }, timeoutMs);
        }),
      ]);
    } catch (err) {
      // dockerode may reject first with its own AbortError; the caller should see the deadline, not that.
      throw toDockerAgentError(controller.signal.aborted ? timeout : err, what);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The calls above through their real (option-taking) signatures. */
  get signalled(): SignalledCalls {
    return this.docker as unknown as SignalledCalls;
  }

  async version(): Promise<{ version: string; apiVersion: string }> {
    const v = await this.call('read the Engine version', (abortSignal) => this.signalled.version({ abortSignal }));
    return { version: v.Version, apiVersion: v.ApiVersion };
  }

  /** `onError` learns why a ping failed (the health log names ENOENT, EACCES or a time-out). */
  async ping(timeoutMs = 3000, onError?: (err: AgentError) => void): Promise<boolean> {
    try {
      await this.call('ping', (abortSignal) => this.signalled.ping({ abortSignal }), timeoutMs);
      return true;
    } catch (err) {
      onError?.(toDockerAgentError(err, 'ping'));
      return false;
    }
  }

  /** Facts the host offers: io weight exists only with the blkio/io controller (absent on some cgroup v2 hosts). */
  async hostFacts(): Promise<HostFacts> {
    const info = await this.call('read Engine info', (abortSignal) => this.signalled.info({ abortSignal }));
    return { ioWeight: info.BlkioWeight !== false };
  }
}
