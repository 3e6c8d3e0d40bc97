import type { ResolvedConfig } from "../config/load.js";
import type { Logger } from "../util/log.js";
import { registerSecret } from "../util/redact.js";

/**
 * Tells the logger every secret value of the config, so that none is printed even where
 * no field name or pattern gives it away (a provider key inside an upstream error message,
 * an SMTP password echoed by a server), then logs the config at `debug` — scrubbed, which
 * is what the secrets test (test/logs) checks.
 */
export function guardConfigSecrets(config: ResolvedConfig, log: Logger): void {
  registerSecret(config.api.apiKey);
  registerSecret(config.api.previousApiKey);
  for (const key of Object.keys(config.gateway.keys)) registerSecret(key);
  for (const p of Object.values(config.providers)) {
    registerSecret(p.apiKey);
    for (const v of Object.values(p.headers ?? {})) registerSecret(v);
  }
  registerSecret(config.webhooks.secret);
  registerSecret(config.notifiers.email?.pass);
  registerSecret(config.notifiers.slack?.webhookUrl);
  log.debug("config", {
    source: config.source,
    api: config.api,
    providers: config.providers,
    webhooks: config.webhooks,
    notifiers: config.notifiers,
  });
}
