/**
 * Failures that say the database is away for now (restarting, failing over, a connection cut),
 * not that the work is wrong: the work is tried again on a fresh connection, within a bound.
 */

/** SQLSTATE classes and codes of a server going away or refusing for now. */
const transientCodes = new Set([
  '57P01', // terminating connection due to administrator command (a restart)
  '57P02', // crash shutdown
  '57P03', // the database system is starting up / shutting down
  '53300', // too many connections
  '40001', // serialization failure
  '40P01', // deadlock detected
  '25006', // read-only transaction (a replica promoted late during a failover)
]);

const transientMessages =
  /Connection terminated|connection error|not queryable|Connection ended|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|timeout exceeded when trying to connect|the database system is/i;

/**
 * A named statement prepared before another instance changed the table (a rolling upgrade added a
 * column): its `*` now names other columns. Tried again on a fresh connection, which prepares it anew.
 */
export function isStalePlan(e: unknown): e is Error {
  return (
    e instanceof Error &&
    (e as { code?: unknown }).code === '0A000' &&
    /cached plan must not change result type/.test(e.message)
  );
}

export function isTransient(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  if (isStalePlan(e)) return true;
  const { code, message } = e as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (transientCodes.has(code) || code.startsWith('08')) return true;
    if (/^E[A-Z]+$/.test(code) && transientMessages.test(code)) return true;
  }
  if (typeof message === 'string' && transientMessages.test(message)) return true;
  const cause = (e as { cause?: unknown }).cause;
  return cause !== undefined && cause !== e && isTransient(cause);
}
