import { describe, expect, test } from "bun:test";
import { parseArgs, USAGE, type CliOptions } from "../../src/control/cli.ts";
import { SluiceError } from "../../src/sys/errors.ts";

const DEFAULTS: CliOptions = { config: "config.toml", check: false, help: false, version: false, logLevel: undefined, logFormat: undefined, workers: undefined, upgrade: false, binary: undefined };

/** codeOf runs parseArgs and returns the SluiceError code it throws, or "ok". */
function codeOf(args: string[]): string {
  try {
    parseArgs(args);
    return "ok";
  } catch (e) {
    if (!(e instanceof SluiceError)) throw e;
    return e.code;
  }
}

describe("parseArgs accepts", () => {
  const rows: [args: string[], expected: Partial<CliOptions>][] = [
    [[], {}],
    [["-c", "a.toml"], { config: "a.toml" }],
    [["--config", "/etc/sluice/b.toml"], { config: "/etc/sluice/b.toml" }],
    [["--config=seed.json"], { config: "seed.json" }],
    [["--config=a=b.toml"], { config: "a=b.toml" }], // only the first = splits
    [["-c", "a.toml", "-c", "b.toml"], { config: "b.toml" }], // the last one wins
    [["--check"], { check: true }],
    [["upgrade"], { upgrade: true }],
    [["upgrade", "-c", "/etc/sluice/config.toml", "--binary", "/opt/sluice-2"], { upgrade: true, config: "/etc/sluice/config.toml", binary: "/opt/sluice-2" }],
    [["upgrade", "--binary=./b"], { upgrade: true, binary: "./b" }],
    [["--check", "-c", "x.toml"], { check: true, config: "x.toml" }],
    [["-v"], { version: true }],
    [["--version"], { version: true }],
    [["-h"], { help: true }],
    [["--help"], { help: true }],
    [["--log-level", "debug"], { logLevel: "debug" }],
    [["--log-level=warn"], { logLevel: "warn" }],
    [["--log-level", "error"], { logLevel: "error" }],
    [["--log-level", "silent"], { logLevel: "silent" }],
    [["--log-level", "info"], { logLevel: "info" }],
    [["--log-format", "json"], { logFormat: "json" }],
    [["--log-format=text"], { logFormat: "text" }],
    [["--log-format", "json", "--log-level", "debug"], { logFormat: "json", logLevel: "debug" }],
    [["--workers", "4"], { workers: 4 }],
    [["--workers=auto"], { workers: "auto" }],
    [["--workers", "64"], { workers: 64 }],
    [["-c", "--check"], { config: "--check" }], // a flag's value is taken as is, like getopt
    [
      ["--check", "--log-level", "debug", "--config", "c.toml", "-h", "-v"],
      { check: true, logLevel: "debug", config: "c.toml", help: true, version: true },
    ],
  ];
  for (const [args, expected] of rows) {
    test(JSON.stringify(args), () => {
      expect(parseArgs(args)).toEqual({ ...DEFAULTS, ...expected });
    });
  }
});

describe("parseArgs rejects with USAGE", () => {
  const rows: [args: string[], why: string][] = [
    [["-c"], "-c without a value"],
    [["--config"], "--config without a value"],
    [["--config="], "--config= with an empty value"],
    [["-c", ""], "-c with an empty value"],
    [["--log-level"], "--log-level without a value"],
    [["--log-level="], "--log-level= with an empty value"],
    [["--log-level", "verbose"], "an unknown level"],
    [["--log-level", "INFO"], "a level in capitals"],
    [["--log-format"], "--log-format without a value"],
    [["--log-format", "logfmt"], "an unknown format"],
    [["--log-format", "JSON"], "a format in capitals"],
    [["--workers", "0"], "no workers"],
    [["--workers", "65"], "more workers than the board has rows"],
    [["--workers", "2.5"], "a fraction of a worker"],
    [["--workers", "AUTO"], "auto in capitals"],
    [["--binary", "/opt/sluice"], "--binary without upgrade"],
    [["upgrade", "--check"], "upgrade with --check"],
    [["upgrade", "--binary"], "--binary without a value"],
    [["-c", "x.toml", "upgrade"], "upgrade not first"],
    [["--workers"], "--workers without a value"],
    [["--frobnicate"], "an unknown long flag"],
    [["-x"], "an unknown short flag"],
    [["config.toml"], "a positional argument"],
    [["-c=a.toml"], "= after a short flag"],
    [["--check", "extra"], "a stray argument after a flag"],
    [["-"], "a lone dash"],
  ];
  for (const [args, why] of rows) {
    test(`${why}: ${JSON.stringify(args)}`, () => {
      expect(codeOf(args)).toBe("USAGE");
    });
  }

  test("the error is a SluiceError named SluiceError", () => {
    expect(() => parseArgs(["--nope"])).toThrow(SluiceError);
    try {
      parseArgs(["--nope"]);
    } catch (e) {
      expect((e as SluiceError).name).toBe("SluiceError");
    }
  });
});

describe("parseArgs rejects misleading arguments", () => {
  // `in` would also see Object.prototype's names.
  for (const level of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
    test(`--log-level ${level} is a USAGE error`, () => {
      expect(codeOf(["--log-level", level])).toBe("USAGE");
    });
    test(`--log-format ${level} is a USAGE error`, () => {
      expect(codeOf(["--log-format", level])).toBe("USAGE");
    });
  }

  // Ignoring the value would turn `--check=false` into a check.
  for (const arg of ["--check=false", "--help=no", "--version=1"]) {
    test(`${arg} is a USAGE error`, () => {
      expect(codeOf([arg])).toBe("USAGE");
    });
  }
});

describe("USAGE text", () => {
  test("mentions every flag parseArgs accepts", () => {
    for (const flag of ["-c", "--config", "--check", "--log-level", "--log-format", "-v", "--version", "-h", "--help"]) {
      expect(USAGE).toContain(flag);
    }
  });
});
