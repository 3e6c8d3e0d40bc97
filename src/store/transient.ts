/**
 * Which database errors are worth retrying. A transient error means "the same statement may
 * well succeed in a moment": the connection dropped, the server is restarting, or a
 * serialization conflict was detected. Everything else is a bug or bad data and is thrown.
 */
const TRANSIENT_SQLSTATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "53300", // too_many_connections
  "55P03", // lock_not_available
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up / shutting down)
  "58000", // system_error
  "08000", // connection_exception
  "08001", // sqlclient_unable_to_establish_sqlconnection
  "08003", // connection_does_not_exist
  "08004", // sqlserver_rejected_establishment_of_sqlconnection
  "08006", // connection_failure
]);

const TRANSIENT_NODE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTCONN",
  "EAI_AGAIN",
]);

const TRANSIENT_MESSAGES = [
  "Connection terminated",
  "Client has encountered a connection error",
  "terminating connection",
  "the database system is",
  "Client was closed",
  "timeout exceeded when trying to connect",
];

export function isTransientDbError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_NODE_CODES.has(code)))
    return true;
  return TRANSIENT_MESSAGES.some((m) => err.message.includes(m));
}
