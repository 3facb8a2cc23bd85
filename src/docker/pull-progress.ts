/**
 * Docker's pull progress as the panel can show it: one running total over every layer instead of the Engine's
 * per-layer lines. The Engine sends, per layer, `Pulling fs layer`, then `Downloading` with
 * `progressDetail {current, total}` (bytes), `Download complete`, `Extracting` (bytes again), `Pull complete`;
 * layers the host has are `Already exists` and never carry sizes. Pure, so it is tested on recorded lines.
 */
export interface PullEvent {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
}

export interface PullProgress {
  message: string;
  /** Bytes downloaded so far, over the layers whose size is known. */
  currentBytes?: number;
  /** Bytes to download, over the layers whose size is known so far (grows as the Engine announces layers). */
  totalBytes?: number;
  /** 0-100, downloads then extraction weighted equally; 100 only when every known layer is complete. */
  percent?: number;
}

interface Layer {
  total: number;
  downloaded: number;
  extracted: number;
  done: boolean;
}

export class PullProgressTracker {
  private readonly layers = new Map<string, Layer>();

  private layer(id: string): Layer {
    let layer = this.layers.get(id);
    if (!layer) {
      layer = { total: 0, downloaded: 0, extracted: 0, done: false };
      this.layers.set(id, layer);
    }
    return layer;
  }

  /** Folds one event in; returns what to report, or undefined for events that say nothing (no status). */
  push(event: PullEvent): PullProgress | undefined {
    if (!event.status) return undefined;
    const message = event.id ? `${event.id}: ${event.status}` : event.status;
    if (!event.id || event.status.startsWith('Pulling from') || event.status.startsWith('Digest:')) {
      return { message, ...this.totals() };
    }
    const status = event.status;
    const detail = event.progressDetail ?? {};
    if (status === 'Already exists') {
      // Nothing to fetch: it counts neither way, so the percentage is over what is actually pulled.
      this.layers.delete(event.id);
      return { message, ...this.totals() };
    }
    const layer = this.layer(event.id);
    if (status === 'Downloading' && typeof detail.current === 'number') {
      if (typeof detail.total === 'number' && detail.total > 0) layer.total = detail.total;
      layer.downloaded = Math.min(detail.current, layer.total || detail.current);
    } else if (status === 'Download complete' || status === 'Verifying Checksum') {
      layer.downloaded = layer.total;
    } else if (status === 'Extracting' && typeof detail.current === 'number') {
      if (layer.total === 0 && typeof detail.total === 'number') layer.total = detail.total;
      layer.downloaded = layer.total;
      layer.extracted = Math.min(detail.current, layer.total || detail.current);
    } else if (status === 'Pull complete') {
      layer.downloaded = layer.total;
      layer.extracted = layer.total;
      layer.done = true;
    }
    return { message, ...this.totals() };
  }

  private totals(): Omit<PullProgress, 'message'> {
    let total = 0;
    let downloaded = 0;
    let extracted = 0;
    let allDone = this.layers.size > 0;
    for (const layer of this.layers.values()) {
      total += layer.total;
      downloaded += layer.downloaded;
      extracted += layer.extracted;
      allDone &&= layer.done;
    }
    if (total === 0) return allDone ? { percent: 100 } : {};
    const raw = ((downloaded + extracted) / (2 * total)) * 100;
    const percent = allDone ? 100 : Math.min(99, Math.floor(raw));
    return { currentBytes: downloaded, totalBytes: total, percent };
  }
}
