import { appInfo } from './app.js';
import type { MethodHandler } from './context.js';
import {
  eventBind,
  eventGet,
  eventOfflineClear,
  eventOfflineError,
  eventOfflineGet,
  eventOfflineList,
  eventTest,
  eventUnbind,
} from './event.js';
import * as imbot from './imbot.js';
import * as imV2 from './im-v2.js';
import * as imbotV2 from './imbot-v2.js';
import * as imconnector from './imconnector.js';
import { userAdmin } from './user.js';

/** Every REST method the sandbox answers, by lower-case name (batch is handled by the dispatcher). */
export const methods: Readonly<Record<string, MethodHandler>> = {
  'app.info': appInfo,
  'user.admin': userAdmin,
  'event.bind': eventBind,
  'event.unbind': eventUnbind,
  'event.get': eventGet,
  'event.test': eventTest,
  'event.offline.get': eventOfflineGet,
  'event.offline.clear': eventOfflineClear,
  'event.offline.error': eventOfflineError,
  'event.offline.list': eventOfflineList,
  'imconnector.register': imconnector.register,
  'imconnector.unregister': imconnector.unregister,
  'imconnector.list': imconnector.list,
  'imconnector.chat.name.set': imconnector.chatNameSet,
  'imconnector.activate': imconnector.activate,
  'imconnector.status': imconnector.status,
  'imconnector.connector.data.set': imconnector.connectorDataSet,
  'imconnector.send.messages': imconnector.sendMessages,
  'imconnector.update.messages': imconnector.updateMessages,
  'imconnector.delete.messages': imconnector.deleteMessages,
  'imconnector.send.status.delivery': imconnector.sendStatusDelivery,
  'imconnector.send.status.reading': imconnector.sendStatusReading,
  'imbot.register': imbot.imbotRegister,
  'imbot.message.add': imbot.messageAdd,
  'imbot.message.update': imbot.messageUpdate,
  'imbot.message.delete': imbot.messageDelete,
  'imbot.command.answer': imbot.commandAnswer,
  'imbot.v2.bot.register': imbotV2.botRegister,
  'imbot.v2.bot.update': imbotV2.botUpdate,
  'imbot.v2.bot.get': imbotV2.botGet,
  'imbot.v2.bot.list': imbotV2.botList,
  'imbot.v2.bot.unregister': imbotV2.botUnregister,
  'imbot.v2.chat.message.send': imbotV2.messageSend,
  'imbot.v2.chat.message.update': imbotV2.messageUpdate,
  'imbot.v2.chat.message.delete': imbotV2.messageDelete,
  'imbot.v2.command.register': imbotV2.commandRegister,
  'imbot.v2.command.answer': imbotV2.commandAnswer,
  'imbot.v2.event.get': imbotV2.eventGet,
  'im.v2.event.subscribe': imV2.eventSubscribe,
  'im.v2.event.unsubscribe': imV2.eventUnsubscribe,
  'im.v2.event.get': imV2.eventGet,
};

export type { MethodContext, MethodHandler } from './context.js';
