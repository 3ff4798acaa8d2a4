/** What a decoded body holds: form bodies give only strings, JSON bodies any JSON value. */
export type WireValue = string | number | boolean | null | WireValue[] | WireObject;
export interface WireObject {
  [key: string]: WireValue;
}

export const isWireObject = (v: unknown): v is WireObject => typeof v === 'object' && v !== null && !Array.isArray(v);
