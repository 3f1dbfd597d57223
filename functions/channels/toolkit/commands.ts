/**
 * The chat commands every adapter recognises (`/new`, `/reset`, `/status`, `/stop`). The adapter only recognises
 * them; the agent decides what they do. Platforms decorate commands differently: Telegram appends the bot name in
 * groups (`/reset@my_bot`), Slack users often mention the bot first (`<@U123> /reset`).
 */
const CHAT_COMMANDS = ["new", "reset", "status", "stop"] as const;
type ChatCommand = (typeof CHAT_COMMANDS)[number];

export interface ParsedText {
  command?: ChatCommand;
  /** The text with a leading bot mention removed; for a command, whatever follows it. */
  text: string;
}

const COMMAND = /^\/(new|reset|status|stop)(?:@[A-Za-z0-9_]{1,64})?(?=\s|$)\s*/;
const SLACK_MENTION = /^<@[A-Z0-9]+(?:\|[^>]*)?>\s*/;

export function parseChatText(raw: string): ParsedText {
  const text = raw.replace(SLACK_MENTION, "");
  const match = COMMAND.exec(text.trimStart());
  if (!match) return { text };
  return { command: match[1] as ChatCommand, text: text.trimStart().slice(match[0].length).trim() };
}
