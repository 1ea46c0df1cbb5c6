/**
 * A target in its own process, for the kill -9 scenario: it listens on the
 * port given as argv[2] (0 = any), prints the port, never reads (so its
 * receive buffers fill and the kernel answers its death with resets), and
 * streams pattern bytes to every client, stream id = accept order.
 */
import type { Socket } from "bun";
import { Sender } from "./endpoint.ts";

let accepted = 0;
const listener = Bun.listen<Sender>({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  socket: {
    open(sock) {
      sock.pause();
      sock.data = new Sender(sock as Socket<unknown>, () => sock.terminate());
      sock.data.endless(accepted++);
    },
    data() {},
    drain: (sock) => sock.data.flush(),
    error() {},
  },
});
console.log(`listening ${listener.port}`);
