/**
 * FakePeer is one of a session's sockets, seen from sluice's side. Its write()
 * behaves as Bun's does for the peer's state: whole writes while the kernel
 * has room (or half, to make short writes), 0 while it is full, and -1 once
 * the peer has reset or after our own shutdown/close. It records what sluice
 * did to it, in order.
 */
export class FakePeer {
  data: unknown;
  /** what write() does next: take everything, half, nothing, or fail. */
  mode: "all" | "half" | "none" | "fail" = "all";
  shut = false;
  /** graceful close (FIN) or terminate (RST), whichever came first. */
  gone: "close" | "terminate" | null = null;
  written: number[] = [];
  /** writes refused because the peer had reset: the session has seen the failure. */
  failedWrites = 0;
  readonly log: string[] = [];
  readonly remoteAddress = "127.0.0.1";
  readonly localAddress = "127.0.0.1";
  readonly localPort = 5001;

  /** `logFlow` also records pause() and resume(). */
  constructor(
    readonly name = "peer",
    readonly remotePort = 40000,
    readonly logFlow = false,
  ) {}

  write(d: Uint8Array): number {
    if (this.shut || this.gone !== null) return -1;
    if (this.mode === "fail") {
      this.failedWrites++;
      return -1;
    }
    const n = this.mode === "all" ? d.length : this.mode === "half" ? d.length >> 1 : 0;
    this.written.push(...d.subarray(0, n));
    return n;
  }
  shutdown(): void {
    this.log.push("shutdown");
    this.shut = true;
  }
  pause(): void {
    if (this.logFlow) this.log.push("pause");
  }
  resume(): void {
    if (this.logFlow) this.log.push("resume");
  }
  close(): void {
    this.log.push("close");
    this.gone ??= "close";
  }
  end(): void {
    this.close();
  }
  terminate(): void {
    this.log.push("terminate");
    this.gone ??= "terminate";
  }
  /** sent a FIN: shutdown() or a graceful close. */
  get finned(): boolean {
    return this.shut || this.gone === "close";
  }
}
