/**
 * @module discovery: a host-name target becomes one target per address it
 * resolves to, so the balancer and the health checker see each backend
 * behind a name (a Kubernetes headless Service, a DNS round-robin) on its own.
 *
 * Names are resolved when an app starts, on reload and every health interval.
 * A failed resolution keeps the last good set; a name that has never resolved
 * stays one target under its name, dialled (and resolved) by Bun as before.
 * Literal addresses are never resolved. `expand` is pure; `Discovery` holds
 * the last answers and counts.
 */
import { formatEndpoint, type Endpoint } from "../net/target.ts";

/** Resolver answers a host name with its addresses; tests inject their own. */
export type Resolver = (host: string) => Promise<string[]>;

/** systemResolver asks the system resolver through Bun (which caches answers for about 30 s: README, "DNS"). */
export const systemResolver: Resolver = async (host) => (await Bun.dns.lookup(host, {})).map((a) => a.address);

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** isLiteral is true for an IP address, which needs no resolving. */
export function isLiteral(host: string): boolean {
  return host.includes(":") || IPV4.test(host);
}

/**
 * expand replaces each host-name endpoint by one endpoint per address `known`
 * holds for its name (keeping the name as `origin`); endpoints without an
 * answer stay as configured. Duplicates (two names, one address) appear once.
 */
export function expand(configured: readonly Endpoint[], known: ReadonlyMap<string, readonly string[]>): Endpoint[] {
  const out: Endpoint[] = [];
  const seen = new Set<string>();
  for (const e of configured) {
    const addrs = isLiteral(e.host) ? undefined : known.get(e.host);
    const list =
      addrs === undefined || addrs.length === 0
        ? [e]
        : addrs.map((a): Endpoint => ({ ...e, host: a, address: formatEndpoint(a, e.port), origin: e.address }));
    for (const x of list) {
      if (seen.has(x.address)) continue;
      seen.add(x.address);
      out.push(x);
    }
  }
  return out;
}

/** Discovery resolves an app's host names and remembers the last good answer of each. */
export class Discovery {
  readonly known = new Map<string, string[]>();
  resolved = 0;
  failed = 0;

  constructor(
    private readonly resolver: Resolver,
    private readonly onFailure: (host: string, error: string) => void,
  ) {}

  /** names lists the host names among `configured` that need resolving. */
  static names(configured: readonly Endpoint[]): string[] {
    return [...new Set(configured.filter((e) => !isLiteral(e.host)).map((e) => e.host))];
  }

  /** refresh resolves every name in `configured` at once and returns the expanded targets. */
  async refresh(configured: readonly Endpoint[]): Promise<Endpoint[]> {
    const names = Discovery.names(configured);
    await Promise.all(
      names.map(async (host) => {
        try {
          const addrs = [...new Set(await this.resolver(host))].sort();
          if (addrs.length === 0) throw new Error("no addresses");
          this.known.set(host, addrs);
          this.resolved++;
        } catch (e) {
          this.failed++;
          this.onFailure(host, (e as { code?: string }).code ?? (e as Error)?.message ?? String(e));
        }
      }),
    );
    for (const host of this.known.keys()) if (!names.includes(host)) this.known.delete(host);
    return expand(configured, this.known);
  }
}
