/**
 * The V8 flags of every launch of the agent: the bin.ts shebang, `npm start`, the systemd unit, the container
 * image and the benchmarks (test/unit/cli/node-flags.test.ts keeps those places in step with this list).
 * The agent is an I/O-bound daemon that idles most of its life, and resident memory is paid on every host:
 * - `--max-semi-space-size=1`: a 1 MB young generation; it sees little short-lived garbage (about −8 MB).
 * - `--no-maglev` and TurboFan only past 1,000,000 calls (500,000 loop iterations): module resolution at start-up
 *   alone calls path helpers enough to wake the optimising compilers, which pages in about 7 MB of compiler code
 *   and keeps optimised code for functions that are never hot again. Console floods and metrics sampling still
 *   reach the threshold within seconds. Measured with 50 servers: idle RSS 99 → 74 MB, `get_server_status`
 *   latency unchanged, agent CPU during a `yes` flood 7 → 14 % of a core (bench/core.mjs, bench/realtime.mjs).
 * - `--optimize-for-size`: V8's memory-over-speed trade-offs for the code that is optimised (about −2 MB).
 */
export const NODE_FLAGS = [
  '--max-semi-space-size=1',
  '--no-maglev',
  '--invocation-count-for-turbofan=1000000',
  '--invocation-count-for-osr=500000',
  '--optimize-for-size',
] as const;

/**
 * Environment of every launch, added by the launcher (bin.ts) where the operator has not set it.
 * - `MALLOC_TRIM_THRESHOLD_` 4 MiB instead of glibc's 128 KiB: node:http copies every 64 KiB of a request body
 *   into a fresh allocation, and freeing a batch of them (write-body.ts) at the top of the heap made glibc give
 *   the memory back to the kernel at once, so the next reads faulted in fresh pages: about 10,000 page faults and
 *   680 → 360-460 ms of CPU per 256 MiB upload (bench/files.mjs). Idle RSS unchanged (81.7 MB before, 80.3 MB
 *   after uploads with one server): at most 4 MiB of freed heap stays resident.
 */
export const LAUNCH_ENV = { MALLOC_TRIM_THRESHOLD_: String(4 * 1024 * 1024) } as const;
