import '../lazy-modules.js';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { DockerContainers } from './containers.js';
import { createDockerClient, DockerEngine } from './engine.js';
import { DockerEvents } from './events.js';
import { DockerImages } from './images.js';
import { DockerNetworks } from './networks.js';
import type { RegistryCredentials } from './registry-auth.js';

export type { ContainerStatus, ManagedContainer } from './containers.js';
export type { HostFacts } from './engine.js';
export { createDockerClient } from './engine.js';
export type { ContainerEvent } from './events.js';
export type { ImageFacts, PullResult } from './images.js';

/**
 * The Docker layer as the rest of the agent sees it: one object built in main, made of the engine (client and
 * bounded calls), networks, images, containers and events, each in its own module. The methods below only route
 * to them, so the domain keeps one dependency while each concern stays small.
 */

export interface RuntimeOptions {
  agentId: string;
  host: string | undefined;
  apiTimeoutMs: number;
  pullTimeoutMs: number;
  /** Private-registry credentials by host (docker.registries). */
  registries?: Readonly<Record<string, RegistryCredentials>>;
  logger: Logger;
}

export class DockerRuntime {
  readonly docker: Docker;
  readonly engine: DockerEngine;
  readonly networks: DockerNetworks;
  readonly images: DockerImages;
  readonly containers: DockerContainers;
  readonly events: DockerEvents;

  constructor(options: RuntimeOptions, docker?: Docker) {
    this.docker = docker ?? createDockerClient(options.host);
    this.engine = new DockerEngine(this.docker, options.apiTimeoutMs);
    const log: Logger = options.logger;
    this.networks = new DockerNetworks(this.engine, log);
    this.images = new DockerImages(
      this.engine,
      { pullTimeoutMs: options.pullTimeoutMs, registries: options.registries ?? {} },
      log,
    );
    this.containers = new DockerContainers(this.engine, options.agentId, log);
    this.events = new DockerEvents(this.engine, options.agentId, log);
  }

  readonly version = () => this.engine.version();
  readonly ping: DockerEngine['ping'] = (...a) => this.engine.ping(...a);
  readonly hostFacts = () => this.engine.hostFacts();
  readonly ensureNetwork: DockerNetworks['ensureNetwork'] = (...a) => this.networks.ensureNetwork(...a);
  readonly networkGateway: DockerNetworks['networkGateway'] = (...a) => this.networks.networkGateway(...a);
  readonly inspectImage: DockerImages['inspectImage'] = (...a) => this.images.inspectImage(...a);
  readonly cachedImageFacts: DockerImages['cachedFacts'] = (...a) => this.images.cachedFacts(...a);
  readonly pullImage: DockerImages['pullImage'] = (...a) => this.images.pullImage(...a);
  readonly listManaged: DockerContainers['listManaged'] = () => this.containers.listManaged();
  readonly findContainer: DockerContainers['findContainer'] = (...a) => this.containers.findContainer(...a);
  readonly status: DockerContainers['status'] = (...a) => this.containers.status(...a);
  readonly createContainer: DockerContainers['createContainer'] = (...a) => this.containers.createContainer(...a);
  readonly start: DockerContainers['start'] = (...a) => this.containers.start(...a);
  readonly updateResources: DockerContainers['updateResources'] = (...a) => this.containers.updateResources(...a);
  readonly kill: DockerContainers['kill'] = (...a) => this.containers.kill(...a);
  readonly remove: DockerContainers['remove'] = (...a) => this.containers.remove(...a);
  readonly waitForExit: DockerContainers['waitForExit'] = (...a) => this.containers.waitForExit(...a);
  readonly statsOnce: DockerContainers['statsOnce'] = (...a) => this.containers.statsOnce(...a);
  readonly attach: DockerContainers['attach'] = (...a) => this.containers.attach(...a);
  readonly logTail: DockerContainers['logTail'] = (...a) => this.containers.logTail(...a);
  readonly runToCompletion: DockerContainers['runToCompletion'] = (...a) => this.containers.runToCompletion(...a);
  readonly watchEvents: DockerEvents['watchEvents'] = (...a) => this.events.watchEvents(...a);
}
