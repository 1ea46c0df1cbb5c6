/**
 * @module request-head: the admin guard's reading of one HTTP/1 request
 * head, and the replies it writes itself. Pure: strings in, verdicts and
 * bytes out (table-tested in test/unit/admin-guard.test.ts).
 */

/** MAX_HEAD bounds a request head (line and headers); past it the answer is 431. */
export const MAX_HEAD = 16 * 1024;
/** RELAYED: the methods the admin API's routes take; Bun.serve handles them. */
const RELAYED = new Set(["GET", "HEAD", "POST"]);
/** TOKEN is an HTTP method as RFC 9110 allows it. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Verdict on one request head: relay it, answer it with the route table, or refuse it. */
export type Verdict =
  | { kind: "relay"; bodyLength: number }
  | { kind: "route"; method: string; target: string }
  | { kind: "refuse"; status: 400 | 408 | 431; why: string };

/**
 * judge reads one request head (without its final empty line): the request
 * line must be `method SP target SP HTTP/1.0|HTTP/1.1`, the body length must
 * be known (Content-Length, one value, or none).
 */
export function judge(head: string): Verdict {
  const eol = head.indexOf("\r\n");
  const line = eol < 0 ? head : head.slice(0, eol);
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) return { kind: "refuse", status: 400, why: "a control character (or a bare LF) in the request line" };
  const parts = line.split(" ");
  if (parts.length !== 3) return { kind: "refuse", status: 400, why: "the request line is not: method, target, version" };
  const [method, target, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) return { kind: "refuse", status: 400, why: "the method is not a token" };
  if (target === "" || /[\s\x00-\x1f\x7f]/.test(target)) return { kind: "refuse", status: 400, why: "no request target" };
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") return { kind: "refuse", status: 400, why: `unsupported version ${JSON.stringify(version.slice(0, 16))}` };
  if (!RELAYED.has(method)) return { kind: "route", method, target };
  let length: number | undefined;
  for (const field of eol < 0 ? [] : head.slice(eol + 2).split("\r\n")) {
    const colon = field.indexOf(":");
    const name = (colon < 0 ? field : field.slice(0, colon)).trim().toLowerCase();
    const value = colon < 0 ? "" : field.slice(colon + 1).trim();
    if (name === "transfer-encoding") return { kind: "refuse", status: 400, why: "a chunked request body (send Content-Length)" };
    if (name === "content-length") {
      if (!/^\d{1,9}$/.test(value) || (length !== undefined && length !== Number(value))) return { kind: "refuse", status: 400, why: "a bad Content-Length" };
      length = Number(value);
    }
  }
  return { kind: "relay", bodyLength: length ?? 0 };
}

/** Answer is a reply the guard writes itself. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** encode writes `a` as an HTTP/1.1 response that closes the connection. */
export function encode(a: Answer): Uint8Array {
  const body = Buffer.from(a.body);
  const headers = { ...a.headers, "content-length": String(body.length), connection: "close" };
  const text = `HTTP/1.1 ${a.status} ${REASONS[a.status] ?? "Error"}\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")}\r\n`;
  return Buffer.concat([Buffer.from(text, "latin1"), body]);
}

const REASONS: Record<number, string> = { 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 431: "Request Header Fields Too Large" };
