/**
 * The progress display: finished cells scroll by as lines; on a terminal one status line
 * at the bottom shows the elapsed time, the workload and what runs now.
 */
export class Progress {
  private readonly t0 = Date.now();
  private current = "";
  private readonly tty = Boolean(process.stderr.isTTY);
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    if (this.tty) {
      this.timer = setInterval(() => this.draw(), 500);
      this.timer.unref();
    }
  }

  elapsed(): string {
    const s = Math.round((Date.now() - this.t0) / 1000);
    return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  }

  elapsedSeconds(): number {
    return (Date.now() - this.t0) / 1000;
  }

  /** What runs now (replaces the status line). */
  status(text: string): void {
    this.current = text;
    if (this.tty) this.draw();
    else this.out.write(`[${this.elapsed()}] ${text}\n`);
  }

  /** A finished result or a notice (kept on screen). */
  log(text: string): void {
    if (this.tty) this.out.write("\r\x1b[2K");
    this.out.write(`[${this.elapsed()}]   ${text}\n`);
    if (this.tty) this.draw();
  }

  private draw(): void {
    const cols = this.out.columns || 100;
    this.out.write(`\r\x1b[2K${`[${this.elapsed()}] ${this.current}`.slice(0, cols - 1)}`);
  }

  done(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) this.out.write("\r\x1b[2K");
  }
}
