import { AgentError } from '../errors.js';

/** A server's disk limit as the sandbox sees it: checked before bytes land and adjusted once they have. */
export interface Quota {
  /** Throws DISK_LIMIT when `deltaBytes` more would exceed the server's limit. */
  reserve(deltaBytes: number): Promise<void>;
  /** Bytes that may still be written (Infinity without a limit): a cap for data whose size is not known. */
  headroom(): Promise<number>;
  adjust(deltaBytes: number): void;
}

/** DISK_LIMIT for `bytes` that do not fit in `headroom`. */
export function diskLimit(bytes: number, headroom: number): AgentError {
  return new AgentError(
    'DISK_LIMIT',
    `${bytes} bytes do not fit in the ${Math.max(0, headroom)} bytes left of the server's disk limit`,
  );
}
