/**
 * @module watch: notices that the config file changed on disk.
 *
 * It watches the file's directory, not the file: an editor that saves by
 * writing a temporary file and renaming it over the old one, and Kubernetes
 * swapping a ConfigMap's `..data` symlink, both replace the file, and a watch
 * on the old file would see neither. Any event in the directory arms a short
 * debounce; when it fires, the file is read and compared with what was last
 * seen, so editor swap files, a burst of writes or a `touch` cause no reload,
 * and a save that really changed the text causes exactly one.
 */
import { watch as fsWatch, type FSWatcher } from "node:fs";
import { basename, dirname, resolve } from "node:path";

/** DEBOUNCE_MS: how long the directory must be quiet before the file is read. */
export const DEBOUNCE_MS = 250;

/**
 * Debouncer calls `fire` once, `waitMs` after the last poke: a pure timer
 * wrapper so the rule can be tested with a fake clock.
 */
export class Debouncer {
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly waitMs: number,
    readonly fire: () => void,
    readonly clock: { setTimeout: typeof setTimeout; clearTimeout: typeof clearTimeout } = globalThis,
  ) {}

  poke(): void {
    this.clock.clearTimeout(this.#timer);
    this.#timer = this.clock.setTimeout(() => {
      this.#timer = undefined;
      this.fire();
    }, this.waitMs);
  }

  cancel(): void {
    this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** ConfigWatch calls `onChange` when the text of the file at `path` changes. */
export class ConfigWatch {
  readonly #path: string;
  #seen: number | bigint | undefined;
  #watcher: FSWatcher | undefined;
  readonly #debounce: Debouncer;

  constructor(
    path: string,
    readonly onChange: () => void,
    readonly onError: (message: string) => void,
    debounceMs = DEBOUNCE_MS,
  ) {
    this.#path = resolve(path);
    this.#debounce = new Debouncer(debounceMs, () => void this.#check());
  }

  /** start records the file's current text as seen and begins watching its directory. */
  async start(): Promise<void> {
    this.#seen = await this.#fingerprint();
    try {
      this.#watcher = fsWatch(dirname(this.#path), { persistent: false }, () => this.#debounce.poke());
      this.#watcher.on("error", (e) => this.onError(`config watch stopped: ${(e as Error).message}`));
    } catch (e) {
      this.onError(`cannot watch ${dirname(this.#path)} for changes to ${basename(this.#path)}: ${(e as Error).message}`);
    }
  }

  stop(): void {
    this.#debounce.cancel();
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  async #fingerprint(): Promise<number | bigint | undefined> {
    try {
      return Bun.hash(await Bun.file(this.#path).text());
    } catch {
      // Missing for a moment mid-swap: the next event looks again.
      return undefined;
    }
  }

  async #check(): Promise<void> {
    const now = await this.#fingerprint();
    if (now === undefined || now === this.#seen) return;
    this.#seen = now;
    this.onChange();
  }
}
