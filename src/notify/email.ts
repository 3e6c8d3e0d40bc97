import nodemailer, { type Transporter } from "nodemailer";
import type { RunSummary } from "./message.js";
import { emailMessage } from "./message.js";

export interface EmailSettings {
  host: string;
  port: number;
  secure: boolean;
  user?: string | undefined;
  pass?: string | undefined;
  from: string;
  to: string[];
}

/**
 * Sends run notifications over SMTP with nodemailer. One transport per deliverer.
 *
 * @example
 * ```ts
 * const mailer = new EmailNotifier({ host: "smtp.example.com", port: 587, secure: false, from: "outlast@example.com", to: ["ops@example.com"] });
 * await mailer.send(summary);
 * ```
 */
export class EmailNotifier {
  private readonly transport: Transporter;

  constructor(private readonly settings: EmailSettings) {
    this.transport = nodemailer.createTransport({
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      ...(settings.user ? { auth: { user: settings.user, pass: settings.pass ?? "" } } : {}),
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    });
  }

  /** Resolves with the server's answer; rejects when the server refuses or is unreachable. */
  async send(summary: RunSummary): Promise<string> {
    const msg = emailMessage(summary);
    const info = await this.transport.sendMail({
      from: this.settings.from,
      to: this.settings.to,
      subject: msg.subject,
      text: msg.text,
      html: msg.html,
    });
    return String(info.response ?? "");
  }

  close(): void {
    this.transport.close();
  }
}
