import type { ChildProcess } from 'node:child_process';

export interface AgentProcess {
  child: ChildProcess;
  url: string;
  port: number;
  /** Everything the process wrote to stdout so far (JSON log lines). */
  output(): string;
  command(body: unknown): Promise<Record<string, any>>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  /** After `run`, e.g. ['--config', file]. */
  args?: string[];
  /** How long the "agent listening" line may take; 20 s. */
  timeoutMs?: number;
  /** 'pipe' (default): kept for the error of a failed start; 'inherit': shown as it comes. */
  stderr?: 'pipe' | 'inherit';
}

export declare function spawnAgent(
  env: Record<string, string>,
  token: string,
  options?: SpawnOptions,
): Promise<AgentProcess>;

export interface AgentData {
  dataDir: string;
  token: string;
  agentId: string;
}

export interface StartedAgent extends AgentData {
  url: string;
  pid: number | undefined;
  process: AgentProcess;
  command(body: unknown): Promise<Record<string, any>>;
  rssMb(): Promise<number>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export declare function startAgentProcess(
  extraEnv?: Record<string, string>,
  config?: Record<string, unknown>,
  reuse?: AgentData,
): Promise<StartedAgent>;
