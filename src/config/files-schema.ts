import { z } from 'zod';
import { positiveInt } from './schema-values.js';

/** The file sandbox (src/files) and the file actions: bounds of every read, walk, search and transfer. */

export const filesSchema = z
  .strictObject({
    readMaxBytes: positiveInt.default(10 * 1024 * 1024),
    downloadMaxBytes: positiveInt.default(50 * 1024 * 1024),
    /** Cap of one streamed upload (PUT …/files/content); the disk limit applies as well. */
    streamUploadMaxBytes: positiveInt.default(8 * 1024 * 1024 * 1024),
    listMaxEntries: positiveInt.default(10_000),
    searchMaxResults: positiveInt.default(1000),
    searchMaxDepth: positiveInt.default(32),
    searchTimeMs: positiveInt.default(10_000),
    /** bg actions (archives, copies) answer `pending` with an operationId after this long. */
    backgroundAfterMs: positiveInt.default(20_000),
    /**
     * Glob patterns no file action may touch (picomatch: braces, classes, `**`). A pattern without `/` matches a
     * name at any depth, one with `/` is anchored at the server root; `!pattern` re-allows (last match wins).
     */
    denylist: z.array(z.string().min(1)).default([]),
    /** Recursive operations (delete, copy, archives) refuse trees nested deeper than this (2 descriptors/level). */
    walkMaxDepth: positiveInt.default(128),
    /** Recursive operations refuse trees with more entries than this. */
    walkMaxEntries: positiveInt.default(1_000_000),
    /** Background file operations (copies, archives) running at once per server; more → SERVER_BUSY. */
    backgroundPerServer: positiveInt.default(4),
    /** Lifetime of signed download/upload URLs minted by get_file_url. */
    signedUrlTtlSeconds: positiveInt.default(300),
  })
  .prefault({});
