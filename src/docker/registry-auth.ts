import { readFile } from 'node:fs/promises';

/** docker.registries entries (config/schema.ts). */
export interface RegistryCredentials {
  username: string;
  password?: string | undefined;
  passwordFile?: string | undefined;
}

/**
 * The registry host of an image reference, as Docker reads it: the first path component when it looks like a
 * host (has a dot or a port, or is `localhost`), else Docker Hub (`docker.io`).
 */
export function registryOf(ref: string): string {
  const slash = ref.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = ref.slice(0, slash);
  if (first === 'localhost' || first.includes('.') || first.includes(':')) return first;
  return 'docker.io';
}

/** Docker Hub is configured under any of the names people use for it. */
const HUB_ALIASES = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];

/**
 * The `authconfig` dockerode sends with a pull of `ref`, or undefined for a registry without credentials. A
 * `passwordFile` is read at each pull: a rotated secret applies to the next pull without a restart.
 */
export async function authFor(
  ref: string,
  registries: Readonly<Record<string, RegistryCredentials>>,
): Promise<{ username: string; password: string; serveraddress: string } | undefined> {
  const host = registryOf(ref);
  const names = host === 'docker.io' ? HUB_ALIASES : [host];
  const name = names.find((n) => registries[n]);
  const entry = name ? registries[name] : undefined;
  if (!entry || !name) return undefined;
  const password = entry.password ?? (await readFile(entry.passwordFile as string, 'utf8')).trim();
  return {
    username: entry.username,
    password,
    serveraddress: host === 'docker.io' ? 'https://index.docker.io/v1/' : host,
  };
}
