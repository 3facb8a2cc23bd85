import { createArchive } from './archive-create.js';
import { type ExtractResult, extractArchive } from './archive-extract.js';
import type { ArchiveFormat } from './archive-formats.js';
import type { Owner } from './owner.js';
import type { ServerFiles } from './server-files.js';

/**
 * create_archive and extract_archive (PROTOCOL.md §4.4) on one server's files: creation in archive-create.ts,
 * extraction in archive-extract.ts after the listing and quota check of archive-plan.ts. Archives are hostile
 * input: every stream gets its error handling in the tick it is created (a corrupt entry must fail the action,
 * never the process), and sizes are enforced on the bytes that flow, never on what a header declares.
 */
export class Archiver {
  constructor(
    private readonly files: ServerFiles,
    private readonly owner: Owner | undefined,
  ) {}

  extract(archiveInput: unknown, extractInput: unknown): Promise<ExtractResult> {
    return extractArchive(this.files, this.owner, archiveInput, extractInput);
  }

  create(
    inputs: unknown[],
    archiveInput: unknown,
    format: ArchiveFormat,
  ): Promise<{ archivePath: string; size: number; entries: number }> {
    return createArchive(this.files, this.owner, inputs, archiveInput, format);
  }
}
