export declare function commandClient(url: string, token: string): (body: unknown) => Promise<Record<string, any>>;
export declare function waitFor<T>(probe: () => Promise<T>, what: string, timeoutMs?: number): Promise<T>;
