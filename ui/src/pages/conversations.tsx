import { get } from '../api.js';
import { Problem, Section, Status } from '../components.js';
import { ago, time } from '../format.js';
import { useLoad } from '../hooks.js';
import { href, type Place } from '../router.js';
import type { ChatView, Conversation, LineView, PortalView } from '../types.js';

/** The connector state as a person thinks of it: a portal's lines, their chats, and one chat's dialogs and messages. */
export function ConversationsPage({ place }: { place: Place }) {
  const q = place.query;
  const portals = useLoad(() => get<{ portals: PortalView[] }>('portals'), 'portals');
  const portal = q.get('portal') ?? portals.data?.portals[0]?.memberId ?? undefined;
  const line = q.get('line') ?? undefined;
  const chat = q.get('chat') ?? undefined;
  return (
    <div>
      <header class="page-head">
        <h1>Conversations</h1>
      </header>
      <Problem error={portals.error} />
      {portals.data && portals.data.portals.length === 0 && <p class="muted">No portal yet.</p>}
      {portals.data && portals.data.portals.length > 1 && (
        <nav class="tabs" aria-label="Portals">
          {portals.data.portals.map((p) => (
            <a
              href={href('/conversations', { portal: p.memberId })}
              aria-current={p.memberId === portal ? 'page' : undefined}
            >
              {p.domain}
            </a>
          ))}
        </nav>
      )}
      {portal && (
        <div class="columns">
          <Lines portal={portal} line={line} />
          {line !== undefined && <Chats portal={portal} line={line} chat={chat} />}
          {line !== undefined && chat !== undefined && <ChatPane portal={portal} line={line} chat={chat} />}
        </div>
      )}
    </div>
  );
}

function Lines({ portal, line }: { portal: string; line: string | undefined }) {
  const { data, error } = useLoad(
    () => get<{ lines: LineView[] }>(`portals/${encodeURIComponent(portal)}/lines`),
    portal,
  );
  return (
    <Section title="Lines" id="lines">
      <Problem error={error} />
      {data && data.lines.length === 0 && <p class="muted">No connector event has named a line yet.</p>}
      <ul class="pick">
        {data?.lines.map((l) => (
          <li>
            <a
              href={href('/conversations', { portal, line: l.line })}
              aria-current={String(l.line) === line ? 'true' : undefined}
            >
              Line {l.line}
            </a>{' '}
            {l.deleted && <span class="badge s-dead">deleted</span>}
            <div class="muted">
              {l.connectors.map((c) => `${c.connector}${c.statusDeleted ? ' (off)' : ''}`).join(', ') || 'no connector'}{' '}
              · seen {ago(l.lastSeenAt)}
            </div>
          </li>
        ))}
      </ul>
    </Section>
  );
}

function Chats({ portal, line, chat }: { portal: string; line: string; chat: string | undefined }) {
  const { data, error } = useLoad(
    () => get<{ chats: ChatView[] }>(`portals/${encodeURIComponent(portal)}/chats`, { line }),
    `${portal}|${line}`,
  );
  return (
    <Section title={`Chats on line ${line}`} id="chats">
      <Problem error={error} />
      {data && data.chats.length === 0 && <p class="muted">No chats.</p>}
      <ul class="pick">
        {data?.chats.map((c) => (
          <li>
            <a
              href={href('/conversations', { portal, line, chat: c.externalChatId })}
              aria-current={c.externalChatId === chat ? 'true' : undefined}
            >
              {c.name ?? c.externalChatId}
            </a>
            <div class="muted">
              {c.connector} · Bitrix24 chat {c.imChatId ?? '—'} · seen {ago(c.lastSeenAt)}
            </div>
          </li>
        ))}
      </ul>
    </Section>
  );
}

function ChatPane({ portal, line, chat }: { portal: string; line: string; chat: string }) {
  const { data, error } = useLoad(
    () => get<Conversation>(`portals/${encodeURIComponent(portal)}/conversation`, { line, chat }),
    `${portal}|${line}|${chat}`,
  );
  return (
    <div class="chat-pane">
      <Problem error={error} />
      {data && (
        <>
          <Section title={`Chat ${data.chat?.name ?? chat}`} id="chat">
            <p>
              <a href={href('/events', { portal, line, chat })}>Its events</a>
            </p>
            <h3>Dialogs</h3>
            {data.dialogs.length === 0 ? (
              <p class="muted">No dialog events seen.</p>
            ) : (
              <ul class="dialogs">
                {data.dialogs.map((d) => (
                  <li>
                    Session <strong>{d.sessionId}</strong>{' '}
                    <Status status={d.open ? 'pending' : 'done'} label={d.open ? 'open' : 'closed'} />
                    {d.parents.length > 0 && <span> · follows {d.parents.join(' ← ')}</span>}
                    <div class="muted">
                      started {time(d.startedAt)}
                      {d.closedAt !== null && <> · closed {time(d.closedAt)}</>}
                      {d.closesAt !== null && <> · closes {ago(d.closesAt)}</>}
                      {d.externalUserId && <> · customer {d.externalUserId}</>}
                    </div>
                  </li>
                ))}
              </ul>
            )}
          </Section>
          <Section title="Messages" id="messages">
            <ol class="messages">
              {data.conversation.map((m) => {
                const op =
                  m.imMessageId === null ? undefined : data.messages.find((x) => x.imMessageId === m.imMessageId);
                return (
                  <li
                    class={`msg from-${m.from}${m.deleted ? ' deleted' : ''}`}
                    data-message={m.imMessageId ?? m.externalIds[0]}
                  >
                    <div class="msg-head">
                      <strong>{m.from === 'operator' ? 'Operator' : 'Customer'}</strong> · {time(m.createdAt)}
                      {m.imMessageId !== null && <> · Bitrix24 message {m.imMessageId}</>}
                      {m.externalIds.length > 0 && <> · channel id {m.externalIds.join(', ')}</>}
                      {m.deleted && <span class="badge s-dead">deleted</span>}
                      {m.readAt !== null && <> · read {time(m.readAt)}</>}
                    </div>
                    <div class="msg-text">{m.text ?? <em>no text</em>}</div>
                    {op && op.history.length > 0 && (
                      <details class="history">
                        <summary>
                          Edited {op.history.length} time{op.history.length === 1 ? '' : 's'}
                        </summary>
                        <ol>
                          <li>
                            <time>{time(op.createdAt)}</time> first: {op.originalText ?? <em>not seen</em>}
                          </li>
                          {op.history.map((h) => (
                            <li>
                              <time>{time(h.at)}</time> <a href={href(`/events/${h.eventId}`)}>edit</a>: {h.text}
                            </li>
                          ))}
                        </ol>
                      </details>
                    )}
                    {op?.deletedAt && <div class="muted">deleted {time(op.deletedAt)}</div>}
                  </li>
                );
              })}
            </ol>
          </Section>
        </>
      )}
    </div>
  );
}
