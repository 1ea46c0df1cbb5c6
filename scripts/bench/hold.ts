/**
 * holdUntilStdinCloses keeps a load client's connections open until the bench
 * closes its stdin (or 10 minutes at most), then closes them with `close`
 * and exits: the bench's way to say "measured, let go".
 * @module
 */
export function holdUntilStdinCloses<S>(sockets: readonly S[], close: (s: S) => void): void {
  const finish = () => {
    for (const s of sockets) close(s);
    process.exit(0);
  };
  process.stdin.on("end", finish);
  process.stdin.on("close", finish);
  process.stdin.resume();
  setTimeout(finish, 600_000);
}
