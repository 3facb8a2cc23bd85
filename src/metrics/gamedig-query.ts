import { deferGamedigGot } from './gamedig-lazy-got.js';
import { PermanentQueryError, type QueryAnswer, type QueryFn } from './query-scheduler.js';

type GameDigModule = typeof import('gamedig');

/**
 * Game queries through gamedig (MIT, maintained, 300+ games: Valve A2S, Minecraft, OpenTTD, …). It is loaded
 * on the first query, not at start: its module graph (got, fast-xml-parser, iconv-lite and every protocol)
 * costs about 14 MB of resident memory (8 with got deferred, gamedig-lazy-got.ts) that an agent with no queried
 * server should not pay.
 * One client per agent: it owns one UDP socket for all UDP protocols, unref'd so it never holds the process.
 */
export function gamedigQuery(load: () => Promise<GameDigModule> = loadGamedig): QueryFn {
  let loaded: Promise<{ mod: GameDigModule; client: InstanceType<GameDigModule['GameDig']> }> | undefined;
  return async (target, timeoutMs): Promise<QueryAnswer> => {
    loaded ??= load().then(
      (mod) => ({ mod, client: new mod.GameDig() }),
      (err: unknown) => {
        loaded = undefined; // a failed load is retried at the next query
        throw err;
      },
    );
    const { mod, client } = await loaded;
    if (!isKnownType(mod, target.type)) {
      throw new PermanentQueryError(
        `unknown query type "${target.type}": not a game id or "protocol-<name>" of the query library (gamedig)`,
      );
    }
    try {
      const result = await client.query({
        type: target.type,
        host: target.host,
        port: target.port,
        // The port is the one the panel allocated: no guessing other ports of the game's defaults on this host.
        givenPortOnly: true,
        portCache: false,
        maxRetries: 1,
        // gamedig fails every attempt whose whole-attempt timeout is not above the per-packet one.
        socketTimeout: Math.max(250, Math.floor((timeoutMs * 2) / 3)),
        attemptTimeout: timeoutMs,
      });
      return {
        players: Number.isFinite(result.numplayers) ? result.numplayers : result.players.length,
        maxPlayers: result.maxplayers,
        name: result.name || undefined,
        map: result.map || undefined,
        latencyMs: result.ping,
      };
    } catch (err) {
      throw new Error(causeOf(err));
    }
  };
}

function loadGamedig(): Promise<GameDigModule> {
  deferGamedigGot();
  return import('gamedig');
}

function isKnownType(mod: GameDigModule, type: string): boolean {
  if (Object.hasOwn(mod.games, type)) return true;
  return type.startsWith('protocol-') && Object.hasOwn(mod.protocols, type.slice('protocol-'.length));
}

/** gamedig reports "Failed all 1 attempts" and keeps the reason in the stack: surface the reason. */
function causeOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const reason = (err.stack ?? '')
    .split('\n')
    .map((line) => line.trim())
    .find((line) => /^\w*Error: /.test(line) && !line.includes('Failed all'));
  return reason ? reason.replace(/^Error: /, '') : err.message;
}
