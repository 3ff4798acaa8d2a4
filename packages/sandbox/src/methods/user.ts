import type { MethodHandler } from './context.js';

/** user.admin: whether the user the token belongs to administers the portal. */
export const userAdmin: MethodHandler = ({ portal, userId }) => userId === portal.adminUserId;
