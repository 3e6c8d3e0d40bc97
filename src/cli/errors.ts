/** An error the CLI prints as one line, without a stack trace, and exits 1. */
export class CliError extends Error {}
