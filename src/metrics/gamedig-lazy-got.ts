import module from 'node:module';

/**
 * gamedig imports `got` (its HTTP client) at load for the few protocols that query a web API; every UDP or TCP
 * query (A2S, Minecraft, OpenTTD, …) never calls it. Measured with the agent's V8 flags, got is about 6 of the
 * 14 MB gamedig adds to RSS, most of it Node's bundled undici, which an ESM `import 'node:http'` pulls in (see
 * src/lazy-modules.ts for the same effect elsewhere). So, for imports from gamedig's protocols only, `got` is
 * replaced by a stand-in that imports the real got on its first call and forwards to it, keeping the two things
 * gamedig uses: the promise of the response and `cancel()`.
 *
 * lazy-modules.ts does this for CommonJS `require`; gamedig is ESM, which takes the synchronous module hooks
 * (module.registerHooks, Node 22.15+). On an older Node the hook is skipped and got loads eagerly as before.
 */
const PREFIX = 'cap-lazy-got:';

let installed = false;

export function deferGamedigGot(): void {
  if (installed) return;
  installed = true;
  const register = (module as { registerHooks?: typeof module.registerHooks }).registerHooks;
  if (typeof register !== 'function') return;
  register({
    resolve(specifier, context, nextResolve) {
      if (specifier !== 'got' || !context.parentURL?.includes('/gamedig/protocols/')) {
        return nextResolve(specifier, context);
      }
      const real = nextResolve(specifier, context).url;
      return { url: `${PREFIX}${encodeURIComponent(real)}`, shortCircuit: true };
    },
    load(url, context, nextLoad) {
      if (!url.startsWith(PREFIX)) return nextLoad(url, context);
      const real = decodeURIComponent(url.slice(PREFIX.length));
      return { format: 'module', shortCircuit: true, source: standIn(real) };
    },
  });
}

function standIn(realUrl: string): string {
  return `const REAL = ${JSON.stringify(realUrl)};
export default function got(options) {
  let inner;
  let cancelled = false;
  const pending = import(REAL).then((m) => {
    if (cancelled) throw new Error('request cancelled');
    inner = m.default(options);
    return inner;
  });
  pending.cancel = () => {
    cancelled = true;
    inner?.cancel();
  };
  return pending;
}
`;
}
