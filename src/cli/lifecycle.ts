import type { RunningSystem } from "../system/start.js";
import type { Logger } from "../util/log.js";

/**
 * SIGTERM/SIGINT drain the system: stop taking work, let in-flight steps finish within the
 * grace period, give the rest back to the queue, exit 0. A second signal exits at once.
 */
export function stopOnSignals(system: RunningSystem, log: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn(`second ${signal}: exiting without draining`);
      process.exit(130);
    }
    stopping = true;
    log.info(`${signal}: draining`);
    system.stop().then(
      () => process.exit(0),
      (err) => {
        log.error("shutdown failed", { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
