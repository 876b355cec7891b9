import type { ConfigSpec } from './load.js';

// A bare '|' ends a Markdown table cell (oneOf() kinds read `one of a|b|c`); outside code spans
// `<HTTP_HOST>` would be taken for an HTML tag and vanish from the rendered page.
const cellCode = (s: string): string => s.replaceAll('|', '\\|');
const cellText = (s: string): string => cellCode(s).replaceAll('<', '&lt;');

/** A variable's default as a Markdown table cell: `(required)`, `(empty)` or the value in a code span. */
export function defaultCell(hasFallback: boolean, fallback: unknown): string {
  if (!hasFallback) return '(required)';
  // An optional variable whose absence another setting fills in.
  if (fallback === undefined) return '(empty)';
  const text = Array.isArray(fallback) ? fallback.join(',') : String(fallback);
  return text === '' ? '(empty)' : `\`${cellCode(text)}\``;
}

/** A Markdown table of a spec, so a service's README can be checked against its code. */
export function describeConfig(spec: ConfigSpec): string {
  const rows = Object.entries(spec).map(
    ([name, v]) => `| \`${name}\` | ${cellText(v.kind)} | ${defaultCell(v.hasFallback, v.fallback)} | ${cellText(v.description)} |`,
  );
  return ['| variable | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
