import { z } from 'zod';
import { ENV_KEY } from '../spec-patterns.js';

/**
 * Parses an egg document as the public egg repositories publish it (PROTOCOL.md §4.6): PTDL_v1 (`images` array,
 * `config.*` as JSON strings), PTDL_v2 (`docker_images` name → image; `config.*` objects or JSON strings) and the
 * Pelican exports PLCN_v1–v3 (v2's shape, v3 with `startup_commands`). An egg comes from the panel, but eggs
 * are shared and imported by the hundred, so its shape is checked and every part bounded before anything reads
 * it: the serialised size, nesting depth and node count first (an iterative walk, so depth cannot overflow the
 * stack), then a zod schema with a length or count on every field.
 */

export const EGG_LIMITS = {
  /** Published eggs are at most ~25 KB (with a base64 icon, PLCN_v3, ~120 KB); scripts are the bulk. */
  maxBytes: 1024 * 1024,
  /** Eggs nest 4–5 levels (config.files → file → find → find/replace). */
  maxDepth: 16,
  maxNodes: 20_000,
} as const;

export const EGG_VERSIONS = ['PTDL_v1', 'PTDL_v2', 'PLCN_v1', 'PLCN_v2', 'PLCN_v3'] as const;
export type EggVersion = (typeof EGG_VERSIONS)[number];

export type EggPath = (string | number)[];

/** A part of an egg (or of a payload field derived from one) that cannot be used; `path` names the field. */
export class EggError extends Error {
  constructor(
    readonly path: EggPath,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Size, depth and node count of a parsed JSON value, walked with an explicit stack. Sizes are counted in UTF-16
 * units plus punctuation, close to the serialised length without serialising.
 */
export function checkBounds(value: unknown, path: EggPath, limits: typeof EGG_LIMITS = EGG_LIMITS): void {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  let nodes = 0;
  let bytes = 0;
  while (stack.length > 0) {
    const item = stack.pop() as { value: unknown; depth: number };
    nodes += 1;
    if (nodes > limits.maxNodes) throw new EggError(path, `more than ${limits.maxNodes} values`);
    if (item.depth > limits.maxDepth) throw new EggError(path, `nested deeper than ${limits.maxDepth} levels`);
    const v = item.value;
    if (typeof v === 'string') bytes += v.length + 2;
    else if (v === null || typeof v !== 'object') bytes += 8;
    else if (Array.isArray(v)) {
      bytes += 2 + v.length;
      for (const child of v) stack.push({ value: child, depth: item.depth + 1 });
    } else {
      for (const [key, child] of Object.entries(v)) {
        bytes += key.length + 4;
        stack.push({ value: child, depth: item.depth + 1 });
      }
    }
    if (bytes > limits.maxBytes) throw new EggError(path, `larger than ${limits.maxBytes} bytes`);
  }
}

/** A JSON document given as text (eggs store `config.*` so): bounded, parsed, then walked. */
export function parseJsonText(text: string, path: EggPath): unknown {
  if (Buffer.byteLength(text) > EGG_LIMITS.maxBytes) {
    throw new EggError(path, `larger than ${EGG_LIMITS.maxBytes} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new EggError(path, 'not valid JSON');
  }
  checkBounds(value, path);
  return value;
}

/** An object field that eggs also publish as a JSON string of one; `""`, `"{}"`-less blanks and null are absent. */
function jsonOrObject<T extends z.ZodType>(schema: T) {
  return z.preprocess((value, ctx) => {
    if (typeof value !== 'string') return value;
    if (value.trim() === '') return undefined;
    try {
      return parseJsonText(value, []);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return value;
    }
  }, schema.nullish());
}

const text = (max: number) => z.string().max(max, `longer than ${max} characters`);

const variableSchema = z.object({
  name: text(256).nullish(),
  env_variable: z.string().max(256).regex(ENV_KEY, 'must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)'),
  default_value: z.union([text(65_536), z.number(), z.boolean(), z.null()]).optional(),
  rules: z.union([text(4096), z.array(text(2048)).max(64), z.null()]).optional(),
});

const eggSchema = z.object({
  meta: z.object({ version: z.enum(EGG_VERSIONS, { error: `must be one of ${EGG_VERSIONS.join(', ')}` }) }),
  name: text(256).nullish(),
  author: text(256).nullish(),
  description: text(16_384).nullish(),
  features: z.array(text(64)).max(32).nullish(),
  // A few exports hold an array here (a PHP list), as PTDL_v1's `images`.
  docker_images: jsonOrObject(z.union([z.record(text(256), text(512)), z.array(text(512)).max(64)])),
  images: jsonOrObject(z.array(text(512)).max(64)),
  startup: text(16_384).nullish(),
  startup_commands: z.record(text(256), text(16_384)).nullish(),
  config: z
    .object({
      // The entries are checked by config-files.ts, which also checks the payload's own `configFiles`.
      // PHP exports an empty map as `[]`; config-files.ts takes arrays (the spec's own form) too.
      files: jsonOrObject(z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())])),
      startup: jsonOrObject(z.object({ done: z.union([text(1024), z.array(text(1024)).max(32)]).nullish() })),
      stop: text(4096).nullish(),
    })
    .nullish(),
  scripts: z
    .object({
      installation: z
        .object({
          script: text(1024 * 1024).nullish(),
          container: text(512).nullish(),
          entrypoint: text(256).nullish(),
        })
        .nullish(),
    })
    .nullish(),
  file_denylist: jsonOrObject(z.array(z.string().min(1).max(256)).max(100)),
  variables: z.array(variableSchema).max(256).nullish(),
});

export interface EggVariable {
  name: string | undefined;
  envVariable: string;
  defaultValue: string;
  rules: string | string[] | undefined;
}

/** An egg reduced to the fields the agent uses (PROTOCOL.md §4.6 table), each bounded by the schema. */
export interface ParsedEgg {
  version: EggVersion;
  name: string | undefined;
  author: string | undefined;
  description: string | undefined;
  features: string[];
  startup: string | undefined;
  images: Array<{ name: string; image: string }>;
  variables: EggVariable[];
  stop: string | undefined;
  done: string[];
  /** `config.files` as published: path → {parser, find}; checked by config-files.ts. */
  files: Record<string, unknown> | unknown[] | undefined;
  install: { script: string; container: string | undefined; entrypoint: string | undefined } | undefined;
  denylist: string[];
}

const MAX_IMAGES = 64;

/** Parses `payload.egg` (an object or a JSON string of one); throws EggError naming the field at fault. */
export function parseEgg(input: unknown): ParsedEgg {
  let value = input;
  if (typeof input === 'string') value = parseJsonText(input, []);
  else checkBounds(input, []);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new EggError([], 'must be an egg document (an object, or a JSON string of one)');
  }
  const parsed = eggSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    throw new EggError(issue.path as EggPath, issue.message);
  }
  const egg = parsed.data;
  const images: Array<{ name: string; image: string }> = [];
  const named = egg.docker_images;
  if (Array.isArray(named)) for (const image of named) images.push({ name: image, image });
  else if (named) for (const [name, image] of Object.entries(named)) images.push({ name, image });
  for (const image of egg.images ?? []) images.push({ name: image, image });
  if (images.length > MAX_IMAGES) throw new EggError(['docker_images'], `more than ${MAX_IMAGES} images`);
  const done = egg.config?.startup?.done;
  const script = egg.scripts?.installation?.script;
  return {
    version: egg.meta.version,
    name: egg.name ?? undefined,
    author: egg.author ?? undefined,
    description: egg.description ?? undefined,
    features: egg.features ?? [],
    startup: egg.startup ?? Object.values(egg.startup_commands ?? {})[0],
    images,
    variables: (egg.variables ?? []).map((v) => ({
      name: v.name ?? undefined,
      envVariable: v.env_variable,
      defaultValue: v.default_value === null || v.default_value === undefined ? '' : String(v.default_value),
      rules: v.rules ?? undefined,
    })),
    stop: egg.config?.stop ?? undefined,
    done: done === null || done === undefined ? [] : Array.isArray(done) ? done : [done],
    files: egg.config?.files ?? undefined,
    install:
      script !== null && script !== undefined && script.trim() !== ''
        ? {
            script,
            container: egg.scripts?.installation?.container ?? undefined,
            entrypoint: egg.scripts?.installation?.entrypoint ?? undefined,
          }
        : undefined,
    denylist: egg.file_denylist ?? [],
  };
}
