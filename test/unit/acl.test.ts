/** CIDR parsing and the allow/deny decision, IPv4 and IPv6. */
import { describe, expect, test } from "bun:test";
import { Acl, clientIp, ipv6, parseCidr, type Cidr } from "../../src/net/acl.ts";

const blocks = (...texts: string[]): Cidr[] => texts.map((t) => parseCidr(t) as Cidr);

describe("parseCidr", () => {
  test.each([
    ["10.0.0.0/8", 4],
    ["127.0.0.2", 4],
    ["0.0.0.0/0", 4],
    ["::1", 6],
    ["2001:db8::/32", 6],
    ["::/0", 6],
    ["::ffff:10.0.0.0/104", 6],
  ])("%s is a v%d block", (text, v) => {
    const c = parseCidr(text);
    expect(typeof c).toBe("object");
    expect((c as Cidr).v).toBe(v as 4 | 6);
  });

  test.each([
    ["10.0.0.1/8", "host bits"],
    ["10.0.0.0/33", "0-32"],
    ["::1/129", "0-128"],
    ["10.0.0.0/", "prefix length"],
    ["10.0.0.0/x", "prefix length"],
    ["10.0.0", "not an IP address"],
    ["example.com", "not an IP address"],
    ["2001:db8::1/32", "host bits"],
    ["", "not an IP address"],
  ])("%s is refused (%s)", (text, why) => {
    const c = parseCidr(text);
    expect(typeof c).toBe("string");
    expect(c as string).toContain(why);
  });

  test("ipv6 expands every text form to the same number", () => {
    expect(ipv6("::1")).toBe(1n);
    expect(ipv6("0:0:0:0:0:0:0:1")).toBe(1n);
    expect(ipv6("::ffff:127.0.0.1")).toBe((0xffffn << 32n) | 0x7f000001n);
    expect(ipv6("2001:db8::8:800:200c:417a")).toBe(0x20010db8000000000008080020_0c417an);
    expect(ipv6("1::")).toBe(1n << 112n);
    expect(ipv6("not::an::address")).toBeUndefined();
  });
});

describe("Acl", () => {
  const decide = (acl: Acl, addr: string) => acl.permits(clientIp(addr));

  test("no rules permits everyone, even an address it cannot read", () => {
    const acl = new Acl([], []);
    expect(acl.empty).toBe(true);
    expect(decide(acl, "127.0.0.1")).toBe(true);
    expect(acl.permits(undefined)).toBe(true);
  });

  test("deny wins over allow; a non-empty allow admits only its blocks", () => {
    const acl = new Acl(blocks("127.0.0.0/8", "::1"), blocks("127.0.0.3"));
    expect(decide(acl, "127.0.0.2")).toBe(true);
    expect(decide(acl, "127.0.0.3")).toBe(false);
    expect(decide(acl, "10.1.1.1")).toBe(false);
    expect(decide(acl, "::1")).toBe(true);
    expect(decide(acl, "::2")).toBe(false);
  });

  test("deny only: everyone but the denied", () => {
    const acl = new Acl([], blocks("127.0.0.2/31"));
    expect(decide(acl, "127.0.0.1")).toBe(true);
    expect(decide(acl, "127.0.0.2")).toBe(false);
    expect(decide(acl, "127.0.0.3")).toBe(false);
    expect(decide(acl, "127.0.0.4")).toBe(true);
  });

  test("an IPv4-mapped IPv6 client matches IPv4 blocks", () => {
    const acl = new Acl(blocks("127.0.0.2"), []);
    expect(decide(acl, "::ffff:127.0.0.2")).toBe(true);
    expect(decide(acl, "::ffff:127.0.0.1")).toBe(false);
  });

  test("/0 matches its whole family and only it", () => {
    const v4 = new Acl(blocks("0.0.0.0/0"), []);
    expect(decide(v4, "203.0.113.9")).toBe(true);
    expect(decide(v4, "::1")).toBe(false);
    const v6 = new Acl(blocks("::/0"), []);
    expect(decide(v6, "2001:db8::1")).toBe(true);
    expect(decide(v6, "127.0.0.1")).toBe(false);
  });

  test("with rules set, an address that cannot be read is refused", () => {
    expect(new Acl([], blocks("10.0.0.0/8")).permits(clientIp("garbage"))).toBe(false);
  });
});
