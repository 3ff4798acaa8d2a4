/** The text after `b24-im-gateway demo --help`'s options. */
export const HELP = `
Starts, all on loopback and offline:
  - a fake Bitrix24 portal (the sandbox: OAuth, REST, event delivery as Bitrix24 does it),
  - the gateway as its own process (\`serve\`, SQLite in a temporary folder, the sandbox's
    client_id/client_secret, --oauth-server and --allow-domain pointed at the sandbox),
  - a sample external channel that verifies the Standard Webhooks signature of every delivery
    and answers {"externalMessageIds": [...]} for new messages.

Then it installs the application (ONAPPINSTALL, confirmed by the gateway's app.info call-back),
binds the handlers, and plays a conversation: dialog start, operator messages, an edit, a
deletion, ONOPENLINEMESSAGEUPDATE, a bot mentioned and the message edited, dialog finish.
Then the pull modes (the gateway runs with --pull): a Chatbots 2.0 bot in fetch mode whose
event the gateway takes with imbot.v2.Event.get, and the connector switched to offline events,
kept in the portal's queue and taken with event.offline.get once ONOFFLINEEVENT says so.
Each step shows what Bitrix24 sent, what the channel received and what Bitrix24 got back
(imconnector.send.status.delivery with the channel's message ids), and is checked.
Ends with a summary and PASS (exit 0) or FAIL (exit 1). Everything started is stopped and
the temporary folder removed on exit, also after a failure or Ctrl+C.

Examples:
  b24-im-gateway demo
  b24-im-gateway demo --format html
  b24-im-gateway demo --keep        # then try the sandbox's control API and the gateway by hand
`;
