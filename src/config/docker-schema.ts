import { z } from 'zod';
import { positiveInt } from './schema-values.js';

/** The Engine (src/docker): where it is, the two networks, deadlines of its calls, registry credentials. */

export const dockerSchema = z
  .strictObject({
    /** Unix socket or tcp:// URL; defaults to DOCKER_HOST, else /var/run/docker.sock. */
    host: z.string().min(1).optional(),
    /** The bridge network every game server joins; created when missing. */
    network: z.string().min(1).default('ctrl-alt-play'),
    /**
     * The bridge network install containers join; created when missing. Installs download games, so it has
     * outbound access, but it is not the game network: an install script never shares a segment with tenants'
     * running servers.
     */
    installNetwork: z.string().min(1).default('ctrl-alt-play-install'),
    pullTimeoutMs: positiveInt.default(15 * 60_000),
    /** Calls to the Engine that take longer than this are treated as DOCKER_UNAVAILABLE. */
    apiTimeoutMs: positiveInt.default(20_000),
    /** Period of the reachability ping behind /health, /ready and /metrics (its time-out: 3 s or apiTimeoutMs). */
    healthIntervalMs: positiveInt.default(5_000),
    /**
     * Credentials of private registries by host ("registry.example.com", "ghcr.io"; Docker Hub is "docker.io"),
     * sent with pulls. `passwordFile` is read at each pull, so a rotated secret needs no restart.
     */
    registries: z
      .record(
        z.string().min(1),
        z
          .strictObject({
            username: z.string().min(1),
            password: z.string().min(1).optional(),
            passwordFile: z.string().min(1).optional(),
          })
          .refine((r) => (r.password === undefined) !== (r.passwordFile === undefined), {
            message: 'give exactly one of password and passwordFile',
          }),
      )
      .default({}),
  })
  .prefault({});
