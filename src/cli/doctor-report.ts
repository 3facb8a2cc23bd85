/**
 * What `doctor` reports and how it reads on a terminal (`--json` prints the report as it is). The checks build
 * `Check`s; they import this module rather than doctor.ts, which imports them.
 * `warn` is worth knowing but does not fail the run; `fail` does (exit 3).
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: Check[];
}

/** The report of a run: it fails when one check fails. */
export function doctorReport(checks: Check[]): DoctorReport {
  // A fix is advice for a problem: an ok check carries none (in --json either).
  const shown = checks.map(({ fix, ...check }) => (check.status === 'ok' || !fix ? check : { ...check, fix }));
  return { ok: checks.every((c) => c.status !== 'fail'), checks: shown };
}

export function printDoctor(report: DoctorReport, print: (line: string) => void): void {
  const tag: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };
  for (const check of report.checks) {
    print(`${tag[check.status]}  ${check.name.padEnd(14)} ${check.detail}`);
    if (check.status !== 'ok' && check.fix) print(`      ${''.padEnd(14)} fix: ${check.fix}`);
  }
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  print(failed === 0 ? 'all checks passed' : `${failed} problem(s) found`);
}
