/** Which buttons a key's scope shows. The one place the page decides it: the server enforces
 * scopes either way, this only hides what would be refused.
 *
 * The scope comes from `viewer { scope }` (main.tsx asks it at start and after a new key);
 * until it answers it is unknown and every button shows. */

export type Scope = "read" | "write" | "admin";
export type Action = "reevaluate" | "saveSlice";

const NEEDS: Record<Action, Scope[]> = {
  reevaluate: ["write", "admin"],
  saveSlice: ["write", "admin"],
};

let scope: Scope | null = null;

export function setCurrentScope(value: Scope | null): void {
  scope = value;
}

export function currentScope(): Scope | null {
  return scope;
}

/** Whether to show the control for `action` to a key of `given` scope (null: unknown). */
export function allows(action: Action, given: Scope | null = scope): boolean {
  return given === null || NEEDS[action].includes(given);
}
