import { expect, test } from "bun:test";
import { epollTargets, loopSockets } from "../../src/sys/stuck-sockets.ts";

test("epollTargets reads the watched descriptors of an epoll's fdinfo", () => {
  const fdinfo = [
    "pos:\t0",
    "flags:\t02000002",
    "mnt_id:\t15",
    "ino:\t1057",
    "tfd:        5 events:       19 data:     7f2a3c000b10  pos:0 ino:2f9a sdev:8",
    "tfd:       12 events: 80000019 data:     7f2a3c001b20  pos:0 ino:2f9b sdev:8",
    "tfd:      103 events:        1 data:                5  pos:0 ino:41a sdev:f",
  ].join("\n");
  expect(epollTargets(fdinfo)).toEqual([5, 12, 103]);
  expect(epollTargets("pos:\t0\nflags:\t02\n")).toEqual([]);
});

test("loopSockets finds this thread's own loop by a listener it watches, and lists its other sockets", async () => {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const c = await Bun.connect({ hostname: "127.0.0.1", port: l.port, socket: { data() {} } });
  try {
    const lfd = (l as unknown as { fd: number }).fd;
    const cfd = (c as unknown as { fd: number }).fd;
    const found = loopSockets([lfd]);
    expect(Array.isArray(found)).toBe(true);
    expect(found as number[]).toContain(cfd);
    expect(found as number[]).not.toContain(lfd);
    expect(loopSockets([])).toBeString();
    expect(loopSockets([999_999])).toBeString();
  } finally {
    c.end();
    l.stop(true);
  }
});
