import { z } from 'zod';
import { bool } from './schema-values.js';

/** Logging (logging.ts): the levels, and where the JSON lines go besides stdout. */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const logSchema = z
  .strictObject({
    /**
     * Also write the JSON lines to this file (its directory is created). Rotation: logrotate without
     * copytruncate, then SIGHUP (`systemctl reload`): the agent reopens the file by name (README, "Logs").
     */
    file: z.string().min(1).optional(),
    /** Keep writing to stdout (the journal) when `file` is set. */
    stdout: bool.default(true),
    /** Human-readable lines on stdout: "auto" when stdout is a terminal; the file is always JSON. */
    pretty: z.enum(['auto', 'always', 'never']).default('auto'),
  })
  .prefault({});
