// How a test or a benchmark talks to a running agent, in this process or a child: the command API with the node
// token, and polling until something holds (the panel polls too). Plain JavaScript, importing nothing of the
// agent, so the bench (plain `node`, no TypeScript loader) and the unit tests (no build) can both use it.

/** POST /api/command with the bearer token; the parsed JSON reply, or an error naming an HTTP status other than 200. */
export function commandClient(url, token) {
  return async (body) => {
    const res = await fetch(`${url}/api/command`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    return await res.json();
  };
}

/** Polls `probe` every 100 ms until it returns a truthy value; fails with the last value seen. */
export async function waitFor(probe, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
}
