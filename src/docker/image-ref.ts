/**
 * The one reading of an image reference as a server spec holds it (PROTOCOL.md §4.1 "Image"): a `~` prefix means
 * "local only, never pull"; Docker itself only ever sees the reference without it.
 */
export function parseImageRef(image: string): { ref: string; localOnly: boolean } {
  const localOnly = image.startsWith('~');
  return { ref: localOnly ? image.slice(1) : image, localOnly };
}
