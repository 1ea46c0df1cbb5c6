import { describe, expect, test } from "bun:test";
import { cpuListSize, quotaCpus, usableCpus } from "../../src/sys/cpus.ts";

describe("workers = auto", () => {
  test("cpu lists as the kernel writes them", () => {
    expect([cpuListSize("0"), cpuListSize("0-1"), cpuListSize("0-3,8,10-11\n"), cpuListSize(""), cpuListSize("3-1"), cpuListSize("x")]).toEqual([1, 2, 7, undefined, undefined, undefined]);
  });

  test("cgroup v2 cpu.max: a quota rounds up, max is none", () => {
    expect([quotaCpus("max 100000"), quotaCpus("100000 100000"), quotaCpus("150000 100000\n"), quotaCpus("50000 100000"), quotaCpus("0 100000"), quotaCpus("")]).toEqual([undefined, 1, 2, 1, undefined, undefined]);
  });

  test("this process may use at least one CPU and no more than the machine has", () => {
    const n = usableCpus();
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(navigator.hardwareConcurrency);
  });
});
