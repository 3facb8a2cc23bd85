/**
 * The socket URL of the panel link (PROTOCOL.md §6.4): `panel.wsUrl` as given, or else `panel.url` switched to
 * ws/wss with path `/ws/agents` and `?nodeId=<nodeUuid>`. The legacy panel reads the node from the query, so the
 * query parameter is kept even though the node id also travels in the `X-Node-Id` header.
 */
export function panelSocketUrl(panel: { url?: string; wsUrl?: string }, nodeId: string): URL | undefined {
  if (panel.wsUrl) return new URL(panel.wsUrl);
  if (!panel.url) return undefined;
  const url = new URL(panel.url);
  if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol === 'http:') url.protocol = 'ws:';
  // A panel mounted under a prefix (https://host/panel) keeps its prefix.
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/ws/agents`;
  url.search = '';
  url.hash = '';
  url.searchParams.set('nodeId', nodeId);
  return url;
}
