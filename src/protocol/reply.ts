import type { AgentError } from '../errors.js';
import type { CommandId } from './envelope.js';

/** The outcome of one command, before a transport gives it its wire shape (wire-error.ts, frames.ts). */
export type Reply =
  | { id?: CommandId; success: true; data?: Record<string, unknown>; message?: string }
  | { id?: CommandId; success: false; error: AgentError };
