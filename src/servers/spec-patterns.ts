/**
 * Patterns the server spec and the egg resolver share (spec.ts, egg/). A module of its own so the egg modules,
 * which spec.ts imports, need nothing back from spec.ts.
 */

/** An environment variable name the agent accepts (PROTOCOL.md §4.1 `environment`). */
export const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Docker reference: [registry[:port]/]name[:tag][@digest], lower-case path, optional "~" for local only. */
export const IMAGE_REF =
  /^~?(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
