/**
 * Every error the sandbox itself makes (never one of the Bitrix24 errors it imitates): a code
 * to search for in the README, the HTTP status the control API and REST answers carry, and a
 * title. Messages add the specifics.
 */
export const sandboxErrorCodes = {
  B24SB_BAD_OPTION: {
    status: 400,
    title: 'A command line the b24-sandbox command cannot take (unknown option, bad value)',
  },
  B24SB_BAD_INPUT: { status: 400, title: 'The input of encode or decode cannot be read' },
  B24SB_LISTEN_FAILED: { status: 500, title: 'The sandbox could not listen on the host and port' },
  B24SB_BAD_REQUEST: { status: 400, title: 'A control request is invalid' },
  B24SB_NOT_FOUND: { status: 404, title: 'No such route, portal, chat or message' },
  B24SB_PORTAL_EXISTS: { status: 409, title: 'A portal with this member_id exists' },
  B24SB_BODY_TOO_LARGE: { status: 413, title: 'Request body is larger than 4 MiB' },
  B24SB_BODY_TIMEOUT: { status: 408, title: 'Request body was not received within 30 s' },
  B24SB_INVALID_UTF8: { status: 400, title: 'Text is not valid UTF-8 once percent-decoded' },
  B24SB_MALFORMED_JSON: { status: 400, title: 'Body is not valid JSON' },
  B24SB_NOT_AN_OBJECT: { status: 400, title: 'JSON body is not an object of parameters' },
  B24SB_INTERNAL: { status: 500, title: 'The sandbox failed; please report it' },
} as const satisfies Record<string, { status: number; title: string }>;

export type SandboxErrorCode = keyof typeof sandboxErrorCodes;

/** A refusal or failure of the sandbox itself; the control API and REST answer `{"error": code, "error_description": message}` with `status`. */
export class SandboxError extends Error {
  readonly code: SandboxErrorCode;
  readonly status: number;

  constructor(code: SandboxErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? sandboxErrorCodes[code].title, options);
    this.name = 'SandboxError';
    this.code = code;
    this.status = sandboxErrorCodes[code].status;
  }
}
