/**
 * The systems compared, each an adapter module run in its own process. `pkg` names the
 * npm package whose installed version the report prints.
 */
import { fileURLToPath } from "node:url";

export interface SystemSpec {
  id: string;
  label: string;
  module: string;
  pkg: string;
  options?: Record<string, unknown>;
  env?: Record<string, string>;
  execArgv?: string[];
}

const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));

export const SYSTEMS = {
  outlastPg: {
    id: "outlast-pg",
    label: "Outlast (PostgreSQL)",
    module: here("./outlast.ts"),
    pkg: "outlast",
    options: { store: "postgres" },
  },
  /** Profile workload only: synchronous_commit=off, to measure what the WAL flush costs. */
  outlastPgAsync: {
    id: "outlast-pg-async",
    label: "Outlast (PostgreSQL, synchronous_commit=off)",
    module: here("./outlast.ts"),
    pkg: "outlast",
    options: { store: "postgres", synchronousCommit: "off" },
  },
  outlastPglite: {
    id: "outlast-pglite",
    label: "Outlast (PGlite)",
    module: here("./outlast.ts"),
    pkg: "outlast",
    options: { store: "pglite" },
  },
  graphile: {
    id: "graphile-worker",
    label: "graphile-worker",
    module: here("./graphile-worker.ts"),
    pkg: "graphile-worker",
  },
  pgBoss: { id: "pg-boss", label: "pg-boss", module: here("./pg-boss.ts"), pkg: "pg-boss" },
  pgBossTuned: {
    id: "pg-boss-tuned",
    label: "pg-boss, tuned (batchSize 50, polling 0.5 s)",
    module: here("./pg-boss.ts"),
    pkg: "pg-boss",
    options: { batchSize: 50, pollingIntervalSeconds: 0.5 },
  },
  bullmq: { id: "bullmq", label: "BullMQ (Redis)", module: here("./bullmq.ts"), pkg: "bullmq" },
  dbos: {
    id: "dbos",
    label: "DBOS Transact",
    module: here("./dbos.ts"),
    pkg: "@dbos-inc/dbos-sdk",
  },
  restate: {
    id: "restate",
    label: "Restate",
    module: here("./restate.ts"),
    pkg: "@restatedev/restate-sdk",
  },
  langgraph: {
    id: "langgraph",
    label: "LangGraph.js + PostgresSaver",
    module: here("./langgraph.ts"),
    pkg: "@langchain/langgraph",
  },
} satisfies Record<string, SystemSpec>;
