import { InvalidArgumentError } from 'commander';

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export const positiveInt =
  (name: string) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a whole number, got "${value}"`);
    return n;
  };

/** Comma-separated list from an environment variable. */
export const envList = (name: string): string[] =>
  (process.env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
