import { z } from 'zod';
import { positiveInt } from './schema-values.js';

/** The outbound link to the panel (src/panel): where it is, its API token and CA, the link's heartbeat. */

export const panelSchema = z
  .strictObject({
    url: z.url().optional(),
    wsUrl: z.url().optional(),
    apiToken: z.string().min(1).optional(),
    caFile: z.string().min(1).optional(),
    /** Heartbeat of the outbound link, and the silence after which it is closed (4408) and redialled. */
    pingIntervalMs: positiveInt.default(25_000),
    silenceTimeoutMs: positiveInt.default(60_000),
  })
  .prefault({});
