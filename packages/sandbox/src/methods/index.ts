import { appInfo } from './app.js';
import type { MethodHandler } from './context.js';
import { eventBind, eventGet, eventTest, eventUnbind } from './event.js';
import { imbotRegister } from './imbot.js';
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
  'imbot.register': imbotRegister,
};

export type { MethodContext, MethodHandler } from './context.js';
