import { StringDecoder } from 'node:string_decoder';

/**
 * Splits a byte stream into console lines: LF and CRLF end a line; a bare CR (progress bars) ends a line too,
 * so a redraw shows as a new line rather than growing one line without bound; lines longer than `maxLineBytes`
 * are split. Blank lines are kept. Multi-byte characters split across chunks decode correctly.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private pendingCr = false;

  constructor(private readonly maxLineChars = 64 * 1024) {}

  push(chunk: Buffer | string): string[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const lines: string[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch === 10) {
        // LF right after a CR that already ended the line: that was a CRLF, not an extra blank line.
        if (this.pendingCr && i === start && this.partial === '') {
          this.pendingCr = false;
          start = i + 1;
          continue;
        }
        lines.push(this.partial + text.slice(start, i));
        this.partial = '';
        this.pendingCr = false;
        start = i + 1;
      } else if (ch === 13) {
        lines.push(this.partial + text.slice(start, i));
        this.partial = '';
        this.pendingCr = true;
        start = i + 1;
      } else if (this.pendingCr) {
        this.pendingCr = false;
      }
    }
    this.partial += text.slice(start);
    while (this.partial.length > this.maxLineChars) {
      lines.push(this.partial.slice(0, this.maxLineChars));
      this.partial = this.partial.slice(this.maxLineChars);
    }
    return lines;
  }

  /** Returns the unterminated rest, if any (at stream end). */
  flush(): string[] {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    this.pendingCr = false;
    return rest ? [rest] : [];
  }
}
