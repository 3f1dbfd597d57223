/**
 * The task text of a hook with its `{{path}}` placeholders filled from the payload. Each value is JSON-encoded and
 * cut short, so whatever the sender put there reads as quoted data inside the operator's sentence.
 */
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]{1,200})\s*\}\}/g;
const MAX_VALUE_CHARS = 200;

function valueAt(payload: unknown, path: string): unknown {
  let current: unknown = payload;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(part)) return undefined;
      current = current[Number(part)];
    } else {
      if (!Object.hasOwn(current, part)) return undefined;
      current = (current as Record<string, unknown>)[part];
    }
  }
  return current;
}

export function renderTask(template: string, payload: unknown): string {
  return template.replace(PLACEHOLDER, (_match, path: string) => {
    const value = valueAt(payload, path);
    if (value === undefined) return "(missing)";
    let text = JSON.stringify(value);
    if (text.length > MAX_VALUE_CHARS) text = `${text.slice(0, MAX_VALUE_CHARS)}…`;
    return text;
  });
}
