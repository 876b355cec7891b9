import type { ConfigSpec } from './load.js';

/** A Markdown table of a spec, so a service's README can be checked against its code. */
export function describeConfig(spec: ConfigSpec): string {
  const rows = Object.entries(spec).map(([name, v]) => {
    const def = v.hasFallback ? `\`${Array.isArray(v.fallback) ? v.fallback.join(',') : String(v.fallback)}\`` : '(required)';
    return `| \`${name}\` | ${v.kind} | ${def} | ${v.description} |`;
  });
  return ['| variable | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
