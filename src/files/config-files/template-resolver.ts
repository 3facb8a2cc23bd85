import type { Resolve } from './rules.js';

/**
 * The templates a config-file value may hold (PROTOCOL.md §4.6). The names are a closed list: a template can
 * reach the server's own build facts and environment, and of the agent's configuration only the game network's
 * gateway (`{{config.docker.interface}}`, Wings' name for it). Every other `{{config.*}}` stays as written, with a
 * warning, so an egg can never read the agent's token, its panel credentials or any other setting.
 */
export interface TemplateContext {
  /** The first port as the game sees it (SERVER_PORT), and its address. */
  port: number | undefined;
  ip: string;
  memoryMb: number;
  /** The container's environment (the user's variables plus the agent's SERVER_* defaults). */
  environment: Readonly<Record<string, string>>;
  /** The gateway of the game network, when known. */
  gateway: string | undefined;
}

const TEMPLATE = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;
const GATEWAY_NAMES = new Set(['config.docker.interface', 'config.docker.network.interface']);

function lookup(name: string, ctx: TemplateContext): string | undefined {
  switch (name) {
    case 'server.build.default.port':
      return ctx.port === undefined ? undefined : String(ctx.port);
    case 'server.build.default.ip':
      return ctx.ip;
    case 'server.build.memory':
      return String(ctx.memoryMb);
  }
  if (GATEWAY_NAMES.has(name)) return ctx.gateway;
  const env = /^(?:server\.build\.env|env)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(name);
  if (env && Object.hasOwn(ctx.environment, env[1] as string)) return ctx.environment[env[1] as string];
  return undefined;
}

/**
 * A resolver for one apply: strings have their known templates replaced, unknown ones are kept as written and
 * reported once each through `warn`; other literals pass through untouched (their type matters).
 */
export function templateResolver(ctx: TemplateContext, warn: (message: string) => void): Resolve {
  const reported = new Set<string>();
  const report = (name: string, why: string) => {
    if (reported.has(name)) return;
    reported.add(name);
    warn(`{{${name}}} ${why}; left as written`);
  };
  return (value) => {
    if (typeof value !== 'string' || !value.includes('{{')) return value;
    return value.replace(TEMPLATE, (whole, name: string) => {
      const found = lookup(name, ctx);
      if (found !== undefined) return found;
      if (GATEWAY_NAMES.has(name)) report(name, 'is not known (the game network has no gateway)');
      else if (name.startsWith('config.'))
        report(name, 'is not available to config files (only config.docker.interface is)');
      else report(name, 'is not known');
      return whole;
    });
  };
}
