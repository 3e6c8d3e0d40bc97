/**
 * The logger every part of Outlast writes through (agents' `ctx.log` included), backed by
 * pino: one JSON line per entry (`level`, `time`, `msg`, fields) on stderr, or a readable
 * single line in `dev` (src/util/log-pretty.ts). Every line is scrubbed of secrets
 * (src/util/redact.ts) and carries the id of the HTTP request it was written for, if any
 * (src/util/request-context.ts).
 */
import pino from "pino";
import { prettyLine } from "./log-pretty.js";
import { REDACT_PATHS, scrub, scrubString } from "./redact.js";
import { currentRequestId } from "./request-context.js";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "json" | "pretty";

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  /** Whether lines at `level` are written: lets a caller skip building costly fields. */
  isLevelEnabled?(level: LogLevel): boolean;
}

const LEVELS: ReadonlySet<string> = new Set(["debug", "info", "warn", "error"]);

export interface LoggerOptions {
  /** Default: OUTLAST_LOG_LEVEL, else `info`. */
  level?: LogLevel;
  /** Default: OUTLAST_LOG_FORMAT, else `json` (`outlast dev` asks for `pretty`). */
  format?: LogFormat;
  base?: Record<string, unknown>;
  /** Where lines go (one call per line, no newline). Default: stderr, written synchronously. */
  write?: (line: string) => void;
}

function envLevel(): LogLevel {
  const v = process.env.OUTLAST_LOG_LEVEL;
  return v && LEVELS.has(v) ? (v as LogLevel) : "info";
}

function envFormat(): LogFormat | undefined {
  const v = process.env.OUTLAST_LOG_FORMAT;
  return v === "json" || v === "pretty" ? v : undefined;
}

/**
 * A logger. Lines below `level` cost one comparison (pino's no-op methods).
 *
 * @example
 * const log = createLogger({ base: { component: "api" } });
 * log.info("listening", { url }); // {"level":"info","time":"…","component":"api","url":"…","msg":"listening"}
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const format = envFormat() ?? opts.format ?? "json";
  const write = opts.write;
  const stream =
    format === "pretty"
      ? { write: (s: string) => (write ?? stderrLine)(prettyLine(s)) }
      : write
        ? { write: (s: string) => write(s.endsWith("\n") ? s.slice(0, -1) : s) }
        : pino.destination({ dest: 2, sync: true });
  const root = pino(
    {
      level: opts.level ?? envLevel(),
      base: null,
      messageKey: "msg",
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      formatters: {
        level: (label) => ({ level: label }),
        // Scrubbed here, after pino merged the mixin and the fields: one pass per line.
        log: (obj) => scrub(obj) as Record<string, unknown>,
      },
      mixin: () => {
        const requestId = currentRequestId();
        return requestId ? { requestId } : {};
      },
      hooks: {
        logMethod(args, method) {
          const [first, second] = args as unknown[];
          if (typeof second === "string") return method.apply(this, [first, scrubString(second)]);
          return method.apply(this, args);
        },
      },
    },
    stream,
  );
  return wrap(opts.base ? root.child(scrub(opts.base) as Record<string, unknown>) : root);
}

function stderrLine(line: string): void {
  process.stderr.write(`${line}\n`);
}

function wrap(p: pino.Logger): Logger {
  return {
    debug: (m, f) => p.debug(f ?? {}, m),
    info: (m, f) => p.info(f ?? {}, m),
    warn: (m, f) => p.warn(f ?? {}, m),
    error: (m, f) => p.error(f ?? {}, m),
    child: (fields) => wrap(p.child(scrub(fields) as Record<string, unknown>)),
    isLevelEnabled: (level) => p.isLevelEnabled(level),
  };
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
