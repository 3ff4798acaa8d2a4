/** A mistake in how the sandbox is driven (unknown portal, missing option); the control API answers with `status`. */
export class SandboxError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'SandboxError';
  }
}
