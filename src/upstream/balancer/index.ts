/**
 * @module balancer: the factory that turns a configured kind into a Balancer.
 */
import type { BalancerKind } from "../../config/types.ts";
import type { Balancer, Random } from "./balancer.ts";
import { leastConnections } from "./least-connections.ts";
import { p2c } from "./p2c.ts";
import { random } from "./random.ts";
import { roundRobin } from "./round-robin.ts";

export type { Balancer, Candidate, Random } from "./balancer.ts";

/** createBalancer builds a fresh balancer of the given kind; `rand` feeds the random ones. */
export function createBalancer(kind: BalancerKind, rand: Random = Math.random, turn?: () => number): Balancer {
  switch (kind) {
    case "least-connections":
      return leastConnections();
    case "round-robin":
      return roundRobin(turn);
    case "random":
      return random(rand);
    case "p2c":
      return p2c(rand);
  }
}
