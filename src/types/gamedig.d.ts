/** The part of gamedig (v5, no bundled types) that metrics/gamedig-query.ts uses. */
declare module 'gamedig' {
  export interface QueryOptions {
    type: string;
    host: string;
    port?: number;
    givenPortOnly?: boolean;
    maxRetries?: number;
    socketTimeout?: number;
    attemptTimeout?: number;
    portCache?: boolean;
  }
  export interface QueryResult {
    name: string;
    map: string;
    numplayers: number;
    maxplayers: number;
    players: unknown[];
    ping: number;
  }
  export class GameDig {
    query(options: QueryOptions): Promise<QueryResult>;
  }
  export const games: Record<string, unknown>;
  export const protocols: Record<string, unknown>;
}
