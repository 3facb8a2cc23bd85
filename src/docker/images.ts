import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { AgentError } from '../errors.js';
import type { DockerEngine } from './engine.js';
import { engineMessage, isNotFound } from './errors.js';
import { parseImageRef } from './image-ref.js';
import { type PullEvent, type PullProgress, PullProgressTracker } from './pull-progress.js';
import { authFor, type RegistryCredentials } from './registry-auth.js';

export interface ImageFacts {
  hasEntrypoint: boolean;
  user: string;
}

export interface PullResult {
  /** True when the pull failed and a local copy is used instead. */
  usedLocal: boolean;
  warning?: string;
}

/** Image references whose facts are kept (each is two small values; the images of one node are few). */
const FACTS_CACHE_MAX = 256;

/** Image facts and pulls (with the one local-only rule of image-ref.ts and private-registry credentials). */
export class DockerImages {
  /**
   * The facts of the last inspect of each reference, for checking an existing container against its spec at each
   * start without an image inspect (container.ts). A pull through the agent drops the entry, since the tag may
   * name another image now; a tag moved outside the agent is seen at the next create, which inspects afresh.
   */
  private readonly facts = new Map<string, ImageFacts>();

  constructor(
    private readonly engine: DockerEngine,
    private readonly options: { pullTimeoutMs: number; registries: Readonly<Record<string, RegistryCredentials>> },
    private readonly log: Logger,
  ) {}

  async inspectImage(ref: string): Promise<ImageFacts | undefined> {
    try {
      const info = await this.engine.call(`inspect image ${ref}`, (abortSignal) =>
        this.dialImageInspect(ref, abortSignal),
      );
      const entrypoint = info.Config?.Entrypoint;
      const facts = {
        hasEntrypoint: Array.isArray(entrypoint) ? entrypoint.length > 0 : Boolean(entrypoint),
        user: info.Config?.User ?? '',
      };
      this.facts.delete(ref);
      this.facts.set(ref, facts);
      if (this.facts.size > FACTS_CACHE_MAX) this.facts.delete(this.facts.keys().next().value ?? ref);
      return facts;
    } catch (err) {
      if (isNotFound((err as AgentError).cause)) {
        this.facts.delete(ref);
        return undefined;
      }
      throw err;
    }
  }

  /** The facts of `ref` as its last inspect by this process found them, without an Engine call. */
  cachedFacts(ref: string): ImageFacts | undefined {
    return this.facts.get(ref);
  }

  /**
   * GET /images/{ref}/json through the modem: dockerode's Image.inspect does not forward an abort signal (5.0.1),
   * and an image inspect is part of every install, so against a hung Engine it would hold a socket each time.
   */
  private dialImageInspect(ref: string, abortSignal: AbortSignal): Promise<Docker.ImageInspectInfo> {
    return new Promise((resolve, reject) => {
      this.engine.docker.modem.dial(
        {
          path: `/images/${ref}/json`,
          method: 'GET',
          abortSignal,
          statusCodes: { 200: true, 404: 'no such image', 500: 'server error' },
        } as Parameters<Docker['modem']['dial']>[0],
        (err, data) => (err ? reject(err) : resolve(data as Docker.ImageInspectInfo)),
      );
    });
  }

  /**
   * Pulls an image. A "~" prefix means local only. When the pull fails but the image exists locally the local
   * copy is used with a warning (there may be no registry at all); otherwise IMAGE_PULL_FAILED.
   */
  async pullImage(reference: string, onProgress: (progress: PullProgress) => void): Promise<PullResult> {
    const { ref, localOnly } = parseImageRef(reference);
    if (localOnly) {
      if (await this.inspectImage(ref)) return { usedLocal: true };
      throw new AgentError('IMAGE_PULL_FAILED', `image ${ref} is marked local-only (~) but is not present locally`);
    }
    this.facts.delete(ref);
    try {
      const authconfig = await authFor(ref, this.options.registries);
      const tracker = new PullProgressTracker();
      await this.engine.call(
        `pull image ${ref}`,
        async (abortSignal) => {
          const stream = (await this.engine.docker.pull(ref, {
            abortSignal,
            ...(authconfig ? { authconfig } : {}),
          })) as Readable;
          // The progress stream outlives the request; a deadline must end it too.
          abortSignal.addEventListener('abort', () => stream.destroy(), { once: true });
          await new Promise<void>((resolve, reject) => {
            this.engine.docker.modem.followProgress(
              stream,
              (err) => (err ? reject(err) : resolve()),
              (event: PullEvent) => {
                if (event.error) reject(new Error(event.error));
                else {
                  const progress = tracker.push(event);
                  if (progress) onProgress(progress);
                }
              },
            );
          });
        },
        this.options.pullTimeoutMs,
      );
      return { usedLocal: false };
    } catch (err) {
      if ((err as AgentError).code === 'DOCKER_UNAVAILABLE') throw err;
      if (await this.inspectImage(ref)) {
        const warning = `pull of ${ref} failed (${engineMessage((err as AgentError).cause ?? err)}); using the local copy`;
        this.log.warn({ image: ref }, warning);
        return { usedLocal: true, warning };
      }
      throw new AgentError(
        'IMAGE_PULL_FAILED',
        `image ${ref} could not be pulled and is not present locally: ${engineMessage((err as AgentError).cause ?? err)}`,
      );
    }
  }
}
