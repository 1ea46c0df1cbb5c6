/**
 * @module listener: one listening port. It belongs to an app, which a reload
 * may swap without closing the port.
 */
import type { TCPSocketListener } from "bun";
import type { App } from "./app.ts";
import { SluiceError } from "./errors.ts";
import { downstreamHandlers, type Session } from "./session.ts";
import { formatEndpoint } from "./target.ts";

export class Listener {
  readonly server: TCPSocketListener<Session>;

  /** The constructor binds at once and throws SluiceError LISTEN_FAILED naming the address. */
  constructor(
    readonly bind: string,
    readonly port: number,
    public app: App,
  ) {
    try {
      this.server = Bun.listen<Session>({
        hostname: bind,
        port,
        allowHalfOpen: true,
        socket: { ...downstreamHandlers, open: (s) => this.app.accept(s) },
      });
    } catch (e) {
      const err = e as { code?: string; message?: string };
      const why =
        err.code === "EADDRINUSE"
          ? "address already in use"
          : err.code === "EACCES"
            ? "permission denied"
            : (err.code ?? err.message ?? String(e));
      throw new SluiceError("LISTEN_FAILED", `cannot listen on ${formatEndpoint(bind, port)} for app "${app.name}": ${why}`);
    }
  }

  /** stop closes the port; sessions already accepted carry on. */
  stop(): void {
    this.server.stop(false);
  }
}
