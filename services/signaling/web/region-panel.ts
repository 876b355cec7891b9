/** The region status table (what the gateway hears on NATS), refreshed every 2 s from GET /api/region. */
interface ServiceRow {
  kind: string;
  id: string;
  load: { score: number; cpu: number; details: Record<string, unknown> };
  endpoints: Record<string, string>;
}

const esc = (s: unknown): string => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

export function startRegionPanel(regionEl: HTMLElement, tbody: HTMLElement, everyMs = 2000): () => void {
  const refresh = async (): Promise<void> => {
    try {
      const r = await fetch('/api/region', { cache: 'no-store' });
      const { region, services } = (await r.json()) as { region: string; services: ServiceRow[] };
      regionEl.textContent = region;
      tbody.innerHTML =
        services
          .map(
            (s) =>
              `<tr data-kind="${esc(s.kind)}"><td class="ok">${esc(s.kind)}</td><td>${esc(s.id)}</td><td>${s.load.score.toFixed(2)}</td>` +
              `<td>${s.load.cpu.toFixed(3)}</td><td>${Object.entries(s.load.details)
                .map(([k, v]) => `${esc(k)}=${esc(v)}`)
                .join(' ')}</td><td>${Object.values(s.endpoints).map(esc).join('<br>')}</td></tr>`,
          )
          .join('') || '<tr><td colspan="6" class="bad">no service heard yet</td></tr>';
    } catch (e) {
      tbody.innerHTML = `<tr><td colspan="6" class="bad">gateway unreachable: ${esc(e)}</td></tr>`;
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), everyMs);
  return () => clearInterval(timer);
}
