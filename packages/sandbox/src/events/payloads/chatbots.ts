/**
 * The Chatbots 2.0 objects (entities.md) as methods answer them and events carry them, field
 * order as in the docs' examples. Native types here: a webhook body turns them into strings.
 */
import type { BotMessage, BotV2Settings, ChatV2, CommandV2 } from '../../chatbots.js';
import { dialogIdOf } from '../../chatbots.js';
import { defaultUser, type SandboxUser } from './bot.js';

/** ISO 8601 with an offset, as Bitrix24 writes dates (`2025-01-15T10:30:00+00:00`). */
export const isoDate = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', '+00:00');

/** A portal user the sandbox acts as: user 1 is the docs' Svetlana Ivanova, the others are named by id. */
export const sandboxUser = (id: number): SandboxUser =>
  id === defaultUser.id ? defaultUser : { id, firstName: 'User', lastName: String(id), gender: 'M' };

/** `User` of a person. Online fields as the docs' example shows them. */
export function userV2(u: SandboxUser, now: number): Record<string, unknown> {
  return {
    id: u.id,
    active: true,
    name: `${u.firstName} ${u.lastName}`,
    firstName: u.firstName,
    lastName: u.lastName,
    workPosition: u.workPosition ?? '',
    color: '#df532d',
    avatar: '',
    gender: u.gender ?? 'M',
    birthday: '',
    extranet: false,
    bot: false,
    connector: false,
    externalAuthId: 'default',
    status: 'online',
    idle: false,
    lastActivityDate: isoDate(now),
    absent: false,
    departments: [1],
    phones: false,
    type: 'employee',
  };
}

/** `User` of a bot (Bot.register's `users`, or a bot as a chat's new member). */
export function botUserV2(botId: number, p: BotV2Settings['properties']): Record<string, unknown> {
  return {
    id: botId,
    active: true,
    name: [p.name, p.lastName].filter(Boolean).join(' '),
    firstName: p.name,
    lastName: p.lastName ?? '',
    workPosition: p.workPosition ?? '',
    color: p.color ?? '#df532d',
    avatar: '',
    gender: p.gender ?? 'M',
    birthday: '',
    extranet: false,
    bot: true,
    connector: false,
    externalAuthId: 'bot',
    status: 'online',
    idle: false,
    lastActivityDate: false,
    absent: false,
    departments: [],
    phones: false,
    type: 'bot',
  };
}

export interface BotCounts {
  message: number;
  command: number;
  chat: number;
  user: number;
}

/** `Bot`: extended (with its counters, for its owner) or brief. */
export function botV2(
  bot: { id: number; code: string },
  s: BotV2Settings,
  counts: BotCounts | undefined,
): Record<string, unknown> {
  const brief = {
    id: bot.id,
    code: bot.code,
    type: s.type,
    isHidden: s.isHidden,
    isSupportOpenline: s.isSupportOpenline,
    isReactionsEnabled: s.isReactionsEnabled,
    backgroundId: s.backgroundId,
    language: s.language,
  };
  if (!counts) return brief;
  return {
    ...brief,
    moduleId: 'rest',
    eventMode: s.eventMode,
    countMessage: counts.message,
    countCommand: counts.command,
    countChat: counts.chat,
    countUser: counts.user,
  };
}

/** `Chat` as events carry it, seen by `viewerId` (a private chat's dialogId is the other member). */
export function chatV2(chat: ChatV2, viewerId: number): Record<string, unknown> {
  return {
    id: chat.id,
    dialogId: dialogIdOf(chat, viewerId),
    type: chat.type,
    name: chat.name,
    entityType: '',
    owner: chat.owner,
    avatar: '',
    color: chat.color,
  };
}

/** `Message`. */
export function messageV2(m: BotMessage): Record<string, unknown> {
  return {
    id: m.id,
    chatId: m.chatId,
    authorId: m.system ? 0 : m.authorId,
    date: m.date,
    text: m.text,
    isSystem: m.system,
    uuid: '',
    forward: null,
    params: m.params,
    viewedByOthers: false,
  };
}

/** `Command` as Command.register answers it. */
export function commandV2(c: CommandV2): Record<string, unknown> {
  return {
    id: c.id,
    botId: c.botId,
    command: `/${c.command}`,
    common: c.common,
    hidden: c.hidden,
    extranetSupport: c.extranetSupport,
  };
}
