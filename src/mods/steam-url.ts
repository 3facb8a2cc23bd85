/**
 * The workshop id a `steam://` URL names, if any. The panel sends `steam://workshop/download/<id>`
 * (steamWorkshopService.ts); Steam's own links are `steam://url/CommunityFilePage/<id>` and
 * `steam://openurl/https://steamcommunity.com/sharedfiles/filedetails/?id=<id>`; older callers send `steam://<id>`.
 * The id is the last all-digit part of the URL; undefined when it has none (then the payload's workshopId is all
 * there is). Pure; unit-tested.
 */
export function workshopIdFromSteamUrl(url: string): string | undefined {
  if (!url.startsWith('steam://')) return undefined;
  const parts = url.slice('steam://'.length).split(/[/?#&=]/);
  return parts.findLast((part) => /^\d{1,20}$/.test(part));
}
