import { z } from 'zod';
import { planLimits, type BucketParams, type Plan } from './limits.js';

/** A forced error answer for one REST method. */
export interface MethodFault {
  status: number;
  error: string;
  description?: string;
  /** Answer with the error this many times, then behave normally again. Unlimited when absent. */
  times?: number;
  /** Adds a `time` block whose operating_reset_at is this (Unix seconds), as with the sandbox's own OPERATION_TIME_LIMIT. */
  operatingResetAt?: number;
}

/** A forced successful answer: `result` instead of what the method would return. */
export interface MethodResult {
  result: unknown;
  /** Answer with it this many times, then run the method again. Unlimited when absent. */
  times?: number;
}

export interface OperationTimeFault {
  /** Operating seconds a method may accumulate in 10 minutes (Bitrix24 cloud: 480). */
  limitSeconds: number;
  /** Seconds each call is charged instead of its real (tiny) run time. */
  costSeconds: number;
  /** Methods the fault applies to; all methods when absent. */
  methods?: string[];
}

/** The switches, all changeable while the sandbox runs. */
export interface Faults {
  /** Per-portal leaky bucket answering 503 QUERY_LIMIT_EXCEEDED; `false` turns it off. On by default with the plan's numbers. */
  rateLimit: false | BucketParams;
  /** Charged operating time and limit; `false` = real run time against 480 s (never reached in practice). */
  operationTimeLimit: false | OperationTimeFault;
  /** Delay before answering each REST and OAuth request. */
  slowMs: number;
  /** A further delay before the token endpoint answers (a slow authorization server). */
  slowOAuthMs: number;
  /** REST and OAuth down: `http503` answers 503, `reset` drops the connection without an answer. */
  outage: false | 'http503' | 'reset';
  /** Forced error answers per method name (lower case); `*` is every method without an entry of its own. */
  methodErrors: Record<string, MethodFault>;
  /** Forced results per method name (lower case), after methodErrors. */
  methodResults: Record<string, MethodResult>;
}

export const REAL_OPERATING_LIMIT_SECONDS = 480;

export const defaultFaults = (plan: Plan): Faults => ({
  rateLimit: { ...planLimits[plan] },
  operationTimeLimit: false,
  slowMs: 0,
  slowOAuthMs: 0,
  outage: false,
  methodErrors: {},
  methodResults: {},
});

/** What `set` accepts: `true` for a switch means "on with defaults", partial objects fill in defaults. */
export const faultsInput = z.strictObject({
  rateLimit: z
    .union([
      z.boolean(),
      z.strictObject({ burst: z.number().positive().optional(), drainPerSecond: z.number().nonnegative().optional() }),
    ])
    .optional(),
  operationTimeLimit: z
    .union([
      z.boolean(),
      z.strictObject({
        limitSeconds: z.number().nonnegative().optional(),
        costSeconds: z.number().nonnegative().optional(),
        methods: z.array(z.string()).optional(),
      }),
    ])
    .optional(),
  slowMs: z.number().int().nonnegative().optional(),
  slowOAuthMs: z.number().int().nonnegative().optional(),
  outage: z.union([z.literal(false), z.literal('http503'), z.literal('reset')]).optional(),
  methodErrors: z
    .record(
      z.string(),
      z.strictObject({
        status: z.number().int().min(100).max(599),
        error: z.string(),
        description: z.string().optional(),
        times: z.number().int().positive().optional(),
        operatingResetAt: z.number().int().positive().optional(),
      }),
    )
    .optional(),
  methodResults: z
    .record(z.string(), z.strictObject({ result: z.unknown(), times: z.number().int().positive().optional() }))
    .optional(),
});
export type FaultsInput = z.input<typeof faultsInput>;

/** Merges a partial switch set into the current one. */
export function applyFaults(current: Faults, input: FaultsInput, plan: Plan): Faults {
  const next: Faults = {
    ...current,
    methodErrors: { ...current.methodErrors },
    methodResults: { ...current.methodResults },
  };
  const { rateLimit, operationTimeLimit, slowMs, slowOAuthMs, outage, methodErrors, methodResults } =
    faultsInput.parse(input);
  if (rateLimit !== undefined) {
    next.rateLimit = rateLimit === false ? false : { ...planLimits[plan], ...(rateLimit === true ? {} : rateLimit) };
  }
  if (operationTimeLimit !== undefined) {
    next.operationTimeLimit =
      operationTimeLimit === false
        ? false
        : {
            limitSeconds: REAL_OPERATING_LIMIT_SECONDS,
            costSeconds: 60,
            ...(operationTimeLimit === true ? {} : operationTimeLimit),
          };
  }
  if (slowMs !== undefined) next.slowMs = slowMs;
  if (slowOAuthMs !== undefined) next.slowOAuthMs = slowOAuthMs;
  if (outage !== undefined) next.outage = outage;
  for (const [method, fault] of Object.entries(methodErrors ?? {})) next.methodErrors[method.toLowerCase()] = fault;
  for (const [method, forced] of Object.entries(methodResults ?? {})) next.methodResults[method.toLowerCase()] = forced;
  return next;
}
