/**
 * The floor for bench/gateway.ts: a bare node:http proxy that reads the request, parses
 * and re-serialises it, forwards it over keep-alive, and does the same with the answer —
 * no limits, no accounting, no failover. What it adds is what any proxy hop costs on the
 * machine (one more process woken twice per call), so Portkey's added latency ÷ this one's
 * estimates the most a gateway could show there. Plain JavaScript, so it runs without a loader.
 *
 * Usage: node bench/lib/bare-proxy.mjs <upstream base URL>   (prints "listening on <url>")
 */
import http from "node:http";

const upstream = new URL(process.argv[2] ?? "http://127.0.0.1:4010");
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString()));
    const up = http.request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          authorization: req.headers.authorization ?? "",
        },
      },
      (answer) => {
        const parts = [];
        answer.on("data", (c) => parts.push(c));
        answer.on("end", () => {
          const text = JSON.stringify(JSON.parse(Buffer.concat(parts).toString()));
          res.writeHead(answer.statusCode ?? 502, {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(text),
          });
          res.end(text);
        });
      },
    );
    up.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    up.end(body);
  });
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
