import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import { TerminalError } from "../../src/errors.js";
import { formatDuration } from "../../src/notify/message.js";
import type { Db } from "../../src/store/db.js";
import { startDeliverer } from "../../src/webhooks/deliverer.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { until } from "../helpers/processes.js";
import { startReceiver, untilDeliveriesSettled } from "../webhooks/helpers.js";

interface Mail {
  from: string;
  to: string[];
  raw: string;
}

/** A local SMTP server (the smtp-server package) that keeps what it receives. */
async function startSmtp(): Promise<{ port: number; mails: Mail[]; close: () => Promise<void> }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (d: Buffer) => chunks.push(d));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString("utf8"),
        });
        callback();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, close: () => new Promise((r) => server.close(() => r())) };
}

/** The readable text of a MIME message: soft line breaks joined, quoted-printable decoded. */
function readable(raw: string): string {
  return raw
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

describe.each(BACKENDS)("Slack and email notifiers on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let service: RunService;
  const stops: (() => Promise<void>)[] = [];
  const agents = [
    defineAgent({
      name: "researcher",
      run: async (ctx) => {
        await ctx.step("think", async () => {
          await new Promise((r) => setTimeout(r, 120));
          // What the gateway's accounting records for the run's LLM calls.
          await db.query(
            `INSERT INTO outlast.gateway_calls (project, agent, run_id, requested, outcome,
               status, input_tokens, output_tokens, cost_usd, latency_ms)
             VALUES ('default', 'researcher', $1, 'smart', 'ok', 200, 1200, 300, 0.0123, 800),
                    ('default', 'researcher', $1, 'smart', 'ok', 200, 100, 50, 0.0004, 200)`,
            [ctx.runId],
          );
        });
        return "done";
      },
    }),
    defineAgent({
      name: "breaker",
      run: async (ctx) =>
        ctx.step("explode", () => {
          throw new TerminalError("the API key was revoked");
        }),
    }),
  ];

  beforeEach(async () => {
    ({ db, close } = await openTestDb(backend));
    if (backend === "pglite") {
      await db.exec(
        "TRUNCATE outlast.events, outlast.webhook_endpoints, outlast.webhook_deliveries, outlast.webhook_attempts, outlast.gateway_calls, outlast.usage_rollups, outlast.usage_totals",
      );
    }
    service = new RunService(db, agents);
    await service.start();
  });

  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await service.stop();
    await close();
  });

  it("tells Slack and email how a run ended: agent, status, duration, cost, link", async () => {
    const slack = await startReceiver((_r, res) => res.writeHead(200).end("ok"));
    stops.push(slack.close);
    const smtp = await startSmtp();
    stops.push(smtp.close);
    const d = await startDeliverer({
      db,
      config: {
        webhooks: { pollIntervalMs: 100 },
        notifiers: {
          publicUrl: "https://outlast.example.com",
          slack: { webhookUrl: `${slack.url}/services/T0/B0/XYZ` },
          email: {
            host: "127.0.0.1",
            port: smtp.port,
            from: "outlast@example.com",
            to: ["ops@example.com", "oncall@example.com"],
            events: ["run.failed"],
          },
        },
      },
    });
    stops.push(() => d.stop());

    const w = new Worker({ db, agents, pollIntervalMs: 100 });
    await w.start();
    stops.push(() => w.stop(1_000));
    const { run: ok } = await service.submit({ agent: "researcher" });
    const { run: bad } = await service.submit({ agent: "breaker" });
    const okDone = (await service.waitFor(ok.id, 10_000)).run;
    const badDone = (await service.waitFor(bad.id, 10_000)).run;

    await until(() => slack.received.length >= 2 && smtp.mails.length >= 1, 15_000, "messages");
    const duration = formatDuration(
      new Date(okDone.finished_at!).getTime() - new Date(okDone.started_at!).getTime(),
    );

    // Slack: one message per run end (the default events), readable text and blocks.
    const messages = slack.received.map(
      (r) => JSON.parse(r.body) as { text: string; blocks: unknown[] },
    );
    const okMsg = messages.find((m) => m.text.includes("researcher"))!;
    expect(okMsg.text).toContain("✅ Run of researcher succeeded");
    expect(okMsg.text).toContain(`in ${duration}`);
    expect(okMsg.text).toContain("cost $0.0127");
    expect(okMsg.text).toContain(`https://outlast.example.com/v1/runs/${ok.id}`);
    const blocks = JSON.stringify(okMsg.blocks);
    expect(blocks).toContain("*Agent*\\nresearcher");
    expect(blocks).toContain("*Status*\\nsucceeded");
    expect(blocks).toContain("*Cost*\\n$0.0127");
    const badMsg = messages.find((m) => m.text.includes("breaker"))!;
    expect(badMsg.text).toContain("❌ Run of breaker failed");
    expect(badMsg.text).toContain("cost n/a");
    expect(JSON.stringify(badMsg.blocks)).toContain("the API key was revoked");

    // Email: only run.failed was asked for.
    await untilDeliveriesSettled(db);
    expect(smtp.mails).toHaveLength(1);
    const mail = smtp.mails[0]!;
    expect(mail.from).toBe("outlast@example.com");
    expect(mail.to).toEqual(["ops@example.com", "oncall@example.com"]);
    const text = readable(mail.raw);
    // The run's duration as the message formats it ("850 ms", or "1.7 s" on a loaded machine).
    const badDuration = formatDuration(
      new Date(badDone.finished_at!).getTime() - new Date(badDone.started_at!).getTime(),
    );
    expect(text).toContain(`Subject: [Outlast] Run of breaker failed (${badDuration})`);
    expect(text).toContain("Agent: breaker");
    expect(text).toContain("Status: failed");
    expect(text).toContain("Cost: n/a");
    expect(text).toContain("Error: the API key was revoked");
    expect(text).toContain(`https://outlast.example.com/v1/runs/${bad.id}`);

    // Both channels are in the delivery log, delivered.
    const log = await db.query<{ kind: string; status: string }>(
      `SELECT ep.kind, d.status FROM outlast.webhook_deliveries d
       JOIN outlast.webhook_endpoints ep ON ep.id = d.endpoint_id ORDER BY ep.kind`,
    );
    expect(log).toEqual([
      { kind: "email", status: "delivered" },
      { kind: "slack", status: "delivered" },
      { kind: "slack", status: "delivered" },
    ]);
  });
});
