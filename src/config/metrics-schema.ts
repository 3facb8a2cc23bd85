import { z } from 'zod';
import { bool } from './schema-values.js';

/** Metrics (src/metrics): resource sampling, game queries, the /metrics listener. */

export const metricsSchema = z
  .strictObject({
    /** resource_update period for running servers that have subscribers. */
    resourceIntervalMs: z.coerce.number().int().min(1000).max(60_000).default(2000),
    /** A game query (create_server `query`) that has no answer within this is a failure. */
    queryTimeoutMs: z.coerce.number().int().min(500).max(30_000).default(3000),
    /** Game queries in flight at once across all servers; the rest wait their turn (one per server at most). */
    queryConcurrency: z.coerce.number().int().min(1).max(64).default(8),
    /**
     * "host:port" of a listener of its own for GET /metrics (e.g. "127.0.0.1:9464"); when unset, /metrics is
     * served on the main listener. Prometheus scrapes it without the panel's listener, TLS or rate limits.
     */
    listen: z
      .string()
      .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}$/, 'must be "host:port", e.g. "127.0.0.1:9464"')
      .optional(),
    /** /metrics asks for the node token (Bearer). Turning it off is only allowed on a listener of its own. */
    auth: bool.default(true),
  })
  .prefault({})
  .refine((m) => m.auth || m.listen !== undefined, {
    message: 'auth: false needs metrics.listen: the main listener never serves /metrics without the token',
  });
