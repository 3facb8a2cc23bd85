import Module from 'node:module';

/**
 * dockerode and docker-modem load their BuildKit session (gRPC + protobuf) and SSH transport (ssh2) eagerly,
 * which costs the agent about 25 MB of resident memory on every host for features it never uses (it builds no
 * images and connects over a unix socket or tcp://). Those two internal modules each export one function, so
 * they are replaced by a stub that loads the real module on first call: nothing changes if they are ever used.
 * Must run before dockerode is first imported (runtime.ts imports this module first).
 */
type Loader = (request: string, parent: { filename?: string } | undefined, isMain: boolean) => unknown;

const LAZY: { request: string; parentPackage: string }[] = [
  { request: './session', parentPackage: `${'/'}dockerode${'/'}` },
  { request: './ssh', parentPackage: `${'/'}docker-modem${'/'}` },
];

let installed = false;

export function installLazyDockerDeps(): void {
  if (installed) return;
  installed = true;
  const internals = Module as unknown as { _load: Loader };
  const original = internals._load;
  internals._load = function lazyLoad(request, parent, isMain) {
    const lazy = LAZY.some((l) => l.request === request && parent?.filename?.includes(l.parentPackage));
    if (!lazy) return original.call(this, request, parent, isMain);
    let real: ((...args: unknown[]) => unknown) | undefined;
    return function lazyExport(this: unknown, ...args: unknown[]) {
      real ??= original.call(internals, request, parent, isMain) as (...args: unknown[]) => unknown;
      return real.apply(this, args);
    };
  };
}

installLazyDockerDeps();
