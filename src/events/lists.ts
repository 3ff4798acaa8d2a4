import { z } from 'zod';

type ListName = 'MESSAGES' | 'DATA';

/**
 * `data` holding a list of items beside `shape`. The connector pages name the list `MESSAGES`
 * and the dialog and open line pages `DATA`; either is accepted and kept under the name it
 * came with. `named` is the one the event's page uses, for the error. Read it with `itemsOf`.
 */
export const withItems = <S extends z.ZodRawShape, T extends z.ZodType>(shape: S, item: T, named: ListName) =>
  z
    .looseObject({ ...shape, MESSAGES: z.array(item).optional(), DATA: z.array(item).optional() })
    .refine((d) => d.MESSAGES !== undefined || d.DATA !== undefined, {
      message: `expected a list under data[${named}] (or data[${named === 'DATA' ? 'MESSAGES' : 'DATA'}])`,
      path: [named],
    });

/** The items of a `withItems` body, under whichever name they came. */
export const itemsOf = <T>(data: {
  MESSAGES?: readonly T[] | undefined;
  DATA?: readonly T[] | undefined;
}): readonly T[] => data.MESSAGES ?? data.DATA ?? [];
