import { AgentError } from '../errors.js';

export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** Maps the errno values a file action can meet to catalogue errors naming the path. */
export function fsError(err: unknown, shown: string): AgentError {
  if (err instanceof AgentError) return err;
  switch (errno(err)) {
    case 'ENOENT':
      return new AgentError('FILE_NOT_FOUND', `${shown} does not exist`);
    case 'EEXIST':
    case 'ENOTEMPTY':
      return new AgentError('ALREADY_EXISTS', `${shown} already exists`);
    case 'ENOTDIR':
      return new AgentError('NOT_A_DIRECTORY', `${shown} is not a directory`);
    case 'EISDIR':
      return new AgentError('IS_A_DIRECTORY', `${shown} is a directory`);
    case 'ELOOP':
      return new AgentError('PATH_OUTSIDE_ROOT', `${shown} is a symbolic link that cannot be followed here`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new AgentError('DISK_LIMIT', `no space left for ${shown}`);
    case 'EACCES':
    case 'EPERM':
      return new AgentError('PERMISSION_DENIED', `permission denied on ${shown}`);
    case 'ENAMETOOLONG':
      return new AgentError('INVALID_PATH', `${shown}: name too long`);
    case 'EMFILE':
    case 'ENFILE':
      return new AgentError('INSUFFICIENT_RESOURCES', `too many open files while working on ${shown}`);
    default:
      return new AgentError('INTERNAL_ERROR', `file operation on ${shown} failed`, undefined, { cause: err });
  }
}
