import { z } from 'zod';
import { IMAGE_REF } from '../spec-patterns.js';
import { parseConfigFiles } from './config-files.js';
import { doneToPattern } from './done.js';
import { EGG_VERSIONS, EggError, type EggVersion, type ParsedEgg, parseEgg } from './parse.js';
import { parseEggStop } from './stop.js';
import { brokenRule, compileRules, createRegexTester } from './variables.js';

/**
 * `egg` in create_server / update_server (PROTOCOL.md §4.6): folds an egg into the payload, so that everything
 * after this step sees a payload without one. Explicit payload fields win over the egg's; the egg's variable
 * defaults go under `payload.environment`, and the variables' rules are checked on the merged values. Nothing
 * is resolved from the agent's own configuration: the egg only ever fills payload fields.
 */

/** What the spec keeps of an egg besides the fields it fills (`features` drives the EULA notice). */
export interface EggInfo {
  version: EggVersion;
  name?: string | undefined;
  author?: string | undefined;
  description?: string | undefined;
  features: string[];
}

export interface EggResolution {
  /** The payload without `egg` (and without `dockerImage`, which only picks an egg image). */
  payload: Record<string, unknown>;
  warnings: string[];
}

const MAX_WARNINGS = 20;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `environment` as create_server takes it (object or JSON string); undefined when it is not one (the schema says why). */
function userEnvironment(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return {};
  let env = value;
  if (typeof value === 'string') {
    if (value.trim() === '') return {};
    try {
      env = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return isRecord(env) ? env : undefined;
}

function pickImage(egg: ParsedEgg, wanted: unknown): string | undefined {
  if (egg.images.length === 0) return undefined;
  let picked = egg.images[0] as { name: string; image: string };
  if (wanted !== undefined && wanted !== null && wanted !== '') {
    const found =
      typeof wanted === 'string' ? egg.images.find((i) => i.name === wanted || i.image === wanted) : undefined;
    if (!found) {
      const names = egg.images.map((i) => i.name).slice(0, 10);
      throw new EggError(['dockerImage'], `is not one of the egg's images (${names.join(', ')})`);
    }
    picked = found;
  }
  if (!IMAGE_REF.test(picked.image)) {
    throw new EggError(['egg', 'docker_images', picked.name], 'not a valid Docker image reference');
  }
  return picked.image;
}

/** Egg defaults under the user's values, then each variable's rules on the value it ends up with. */
function mergeVariables(egg: ParsedEgg, given: unknown, warnings: string[]): unknown {
  const user = userEnvironment(given);
  if (!user) return given; // not an environment: the schema reports it as the user sent it
  const merged: Record<string, unknown> = {};
  for (const v of egg.variables) merged[v.envVariable] = v.defaultValue;
  for (const [key, value] of Object.entries(user)) {
    // null means "no value" for a variable (Pterodactyl: server value ?? default); elsewhere it drops the key.
    if (value === null && key in merged) continue;
    merged[key] = value;
  }
  let testRegex: ReturnType<typeof createRegexTester> | undefined;
  for (const v of egg.variables) {
    const compiled = compileRules(v.rules, ['egg', 'variables', v.envVariable]);
    for (const rule of compiled.unknown) {
      warnings.push(`egg variable ${v.envVariable}: rule "${rule.slice(0, 100)}" is not checked by the agent`);
    }
    const raw = merged[v.envVariable];
    // Non-scalars are the environment schema's to refuse; the rules only judge what would be stored.
    if (raw !== undefined && raw !== null && typeof raw === 'object') continue;
    const value = raw === undefined || raw === null ? undefined : String(raw);
    let broken: string | undefined;
    try {
      broken = brokenRule(value, compiled, (regex, s) => {
        testRegex ??= createRegexTester();
        return testRegex(regex, s);
      });
    } catch (err) {
      throw new EggError(['environment', v.envVariable], (err as Error).message);
    }
    if (broken !== undefined) {
      const label = v.name ? ` (egg variable "${v.name.slice(0, 100)}")` : '';
      throw new EggError(['environment', v.envVariable], `breaks the rule "${broken.slice(0, 200)}"${label}`);
    }
  }
  return merged;
}

/**
 * Turns a create_server/update_server payload with `egg` into one without it; a payload without `egg` is
 * returned as it is. Throws EggError with the path of the field at fault (from the payload's root).
 */
export function resolveEgg(payload: unknown): EggResolution {
  if (!isRecord(payload) || !('egg' in payload)) return { payload: payload as Record<string, unknown>, warnings: [] };
  const { egg: raw, dockerImage, ...out } = payload;
  if (raw === undefined || raw === null) return { payload: out, warnings: [] };
  let egg: ParsedEgg;
  try {
    egg = parseEgg(raw);
  } catch (err) {
    if (err instanceof EggError) throw new EggError(['egg', ...err.path], err.message);
    throw err;
  }
  const warnings: string[] = [];
  if (out.startup === undefined && egg.startup !== undefined) out.startup = egg.startup;
  if (out.image === undefined) {
    const image = pickImage(egg, dockerImage);
    if (image !== undefined) out.image = image;
  }
  if (out.stopCommand === undefined && out.stopSignal === undefined) Object.assign(out, parseEggStop(egg.stop));
  if (out.startupDone === undefined) {
    const pattern = doneToPattern(egg.done, ['egg', 'config', 'startup', 'done']);
    if (pattern !== undefined) out.startupDone = pattern;
  }
  if (out.install === undefined && egg.install) {
    const { script, container, entrypoint } = egg.install;
    if (container !== undefined && !IMAGE_REF.test(container)) {
      throw new EggError(['egg', 'scripts', 'installation', 'container'], 'not a valid Docker image reference');
    }
    out.install = { script, ...(container ? { container } : {}), ...(entrypoint ? { entrypoint } : {}) };
  }
  if (out.denylist === undefined && egg.denylist.length > 0) out.denylist = egg.denylist;
  if (out.configFiles === undefined && egg.files !== undefined) {
    out.configFiles = parseConfigFiles(egg.files, ['egg', 'config', 'files']);
  }
  out.environment = mergeVariables(egg, out.environment, warnings);
  const info: EggInfo = {
    version: egg.version,
    name: egg.name,
    author: egg.author,
    description: egg.description,
    features: egg.features,
  };
  out.eggInfo = info;
  if (warnings.length > 0) out.eggWarnings = warnings.slice(0, MAX_WARNINGS);
  return { payload: out, warnings };
}

/**
 * Wraps a payload schema so it parses the payload after resolveEgg; an egg that cannot be used is a zod issue at
 * the field's path, which the dispatcher reports as INVALID_PAYLOAD naming it.
 */
export function withEgg<T extends z.ZodType>(schema: T) {
  return z.preprocess((value, ctx) => {
    try {
      return resolveEgg(value).payload;
    } catch (err) {
      if (!(err instanceof EggError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message, path: err.path });
      return value;
    }
  }, schema);
}

/** The fields resolveEgg adds, in the form the payload schema parses them. */
export const eggInfoSchema = z.object({
  version: z.enum(EGG_VERSIONS),
  name: z.string().max(256).optional(),
  author: z.string().max(256).optional(),
  description: z.string().max(16_384).optional(),
  features: z.array(z.string().max(64)).max(32),
});
export const eggWarningsSchema = z.array(z.string().max(512)).max(MAX_WARNINGS);
