/**
 * @module tidings: what one worker thread tells the others about an app,
 * never per connection: a passive health mark to the owner, a refresh of
 * target state from it, DNS answers, and a nudge to serve queued clients
 * when a place freed up in another worker.
 */
export type Tidings =
  | { kind: "dial-failed"; app: string; address: string; error: string }
  | { kind: "refresh"; app: string; slowStart: string[] }
  | { kind: "targets"; app: string; known: [string, string[]][] }
  | { kind: "serve"; app: string };
