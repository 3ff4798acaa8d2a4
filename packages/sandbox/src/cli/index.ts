/** The sandbox's command line, for programs that mount it (`b24-im-gateway sandbox` does). */
export { registerSandboxCommand, runSandbox, type SandboxCliOptions } from './serve.js';
export { registerPhpCommands } from './php.js';
