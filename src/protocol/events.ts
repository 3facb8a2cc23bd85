/** The events every transport carries (PROTOCOL.md §6.2): their names and their wire shape. */

export const EVENT_NAMES = [
  'server_status_changed',
  'console_output',
  'resource_update',
  'install_progress',
  /** The install script's output lines (§4.6); also kept on disk for get_install_log. */
  'install_output',
  'daemon_message',
  'operation_completed',
  'server_deleted',
] as const;
export type EventName = (typeof EVENT_NAMES)[number];

export interface AgentEvent {
  event: EventName;
  /** Agent-wide order (PROTOCOL.md §6.3); resume uses it. */
  seq?: number;
  /** Per-server order, contiguous for one server (issue 4): a gap in it shows what a filtered client missed. */
  serverSeq?: number;
  timestamp: string;
  serverId?: string;
  data: Record<string, unknown>;
}
