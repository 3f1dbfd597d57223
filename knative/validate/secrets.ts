/**
 * Recognizes strings that look like credentials, so a secret pasted into knclaw.yaml (or into a rendered env value)
 * is refused instead of being committed to git and applied to a cluster. The message names the kind of credential,
 * never the value.
 */

const PATTERNS: ReadonlyArray<readonly [string, RegExp]> = [
  ["Slack token", /\bxox[abposr]-[A-Za-z0-9-]{10,}/],
  ["Slack app token", /\bxapp-\d-[A-Za-z0-9-]{10,}/],
  ["Slack webhook URL", /hooks\.slack\.com\/services\/T[A-Za-z0-9]+\/B[A-Za-z0-9]+\/[A-Za-z0-9]+/],
  ["Anthropic API key", /\bsk-ant-[A-Za-z0-9_-]{20,}/],
  ["OpenAI-style API key", /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/],
  ["GitHub token", /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})/],
  ["AWS access key id", /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/],
  ["Google API key", /\bAIza[0-9A-Za-z_-]{35}\b/],
  // Not after `-`, `.` or `:`: `system:serviceaccount:team-12345678:<a 35-character account>` is a subject, not a bot.
  ["Telegram bot token", /(?<![\w.:-])\d{6,12}:[A-Za-z0-9_-]{35}\b/],
  ["private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ["JSON Web Token", /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/],
  ["URL with a password", /\b[a-z][a-z0-9+.-]*:\/\/[^\s/@:]*:[^\s/@]+@/i],
];

/** The kind of credential the text looks like, or undefined. */
export function detectLiteralSecret(text: string): string | undefined {
  for (const [kind, pattern] of PATTERNS) if (pattern.test(text)) return kind;
  return undefined;
}
