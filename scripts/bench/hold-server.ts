/**
 * A backend that accepts connections and holds them idle. It writes one byte
 * on accept so a client can tell that the whole path, proxy included, is up.
 * Usage: bun hold-server.ts PORT   (exits on SIGTERM, or after an hour at most)
 * @module
 */
const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error("usage: hold-server.ts PORT");

const server = Bun.listen({
  hostname: "127.0.0.1",
  port,
  socket: {
    open(s) {
      s.write("x");
    },
    data() {},
    error() {},
  },
});
console.log(`holding on ${server.port}`);
// Bounded lifetime: the bench stops it by PID, this is only a backstop.
setTimeout(() => process.exit(0), 3_600_000);
