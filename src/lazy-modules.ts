import Module from 'node:module';

/**
 * Some dependencies load large modules eagerly for features the agent never uses; each costs resident memory on
 * every host. Those modules are replaced, for that one parent only, by a stand-in that loads the real module on
 * first use, so nothing changes if they are ever used:
 * - dockerode's BuildKit session (gRPC + protobuf) and docker-modem's SSH transport (ssh2), about 25 MB: the agent
 *   builds no images and connects over a unix socket or tcp://. Each exports one function.
 * - Fastify's `node:http2`, about 1 MB: the agent serves HTTP/1.1 (and WebSocket upgrades) only.
 * Must run before those packages are first loaded: runtime.ts and app.ts import this module first.
 */
type Loader = (request: string, parent: { filename?: string } | undefined, isMain: boolean) => unknown;

interface LazyModule {
  request: string;
  /** A path fragment of the requiring file, e.g. `/dockerode/`. */
  parent: string;
  /** What the module exports: a single function, or an object of members. */
  shape: 'function' | 'object';
}

const LAZY: LazyModule[] = [
  { request: './session', parent: `${'/'}dockerode${'/'}`, shape: 'function' },
  { request: './ssh', parent: `${'/'}docker-modem${'/'}`, shape: 'function' },
  { request: 'node:http2', parent: `${'/'}fastify${'/'}lib${'/'}`, shape: 'object' },
];

let installed = false;

function standIn(shape: LazyModule['shape'], load: () => unknown): unknown {
  if (shape === 'function') {
    let real: ((...args: unknown[]) => unknown) | undefined;
    return function lazyExport(this: unknown, ...args: unknown[]) {
      real ??= load() as (...args: unknown[]) => unknown;
      return real.apply(this, args);
    };
  }
  let real: object | undefined;
  const target = () => {
    real ??= load() as object;
    return real;
  };
  return new Proxy(
    {},
    {
      get: (_, key) => Reflect.get(target(), key),
      has: (_, key) => Reflect.has(target(), key),
      ownKeys: () => Reflect.ownKeys(target()),
      getOwnPropertyDescriptor: (_, key) => {
        const descriptor = Reflect.getOwnPropertyDescriptor(target(), key);
        return descriptor ? { ...descriptor, configurable: true } : undefined;
      },
    },
  );
}

export function installLazyModules(): void {
  if (installed) return;
  installed = true;
  const internals = Module as unknown as { _load: Loader };
  const original = internals._load;
  internals._load = function lazyLoad(request, parent, isMain) {
    const lazy = LAZY.find((l) => l.request === request && parent?.filename?.includes(l.parent));
    if (!lazy) return original.call(this, request, parent, isMain);
    return standIn(lazy.shape, () => original.call(internals, request, parent, isMain));
  };
}

installLazyModules();
