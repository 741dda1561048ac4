import { afterEach, describe, expect, it } from "vitest";
import { authHeaders, connectionParams, onKeyNeeded, keyNeeded, setApiKey } from "../src/api/auth";
import { allows } from "../src/api/permissions";

describe("API key", () => {
  afterEach(() => sessionStorage.clear());

  it("sends nothing until a key is given, then a bearer header and the socket's init payload", () => {
    expect(authHeaders()).toEqual({});
    expect(connectionParams()).toEqual({});
    setApiKey("sk_test");
    expect(authHeaders()).toEqual({ Authorization: "Bearer sk_test" });
    expect(connectionParams()).toEqual({ authorization: "Bearer sk_test" });
    expect(sessionStorage.getItem("sliceboard.apiKey")).toBe("sk_test");
  });

  it("tells the page when a key is needed, and stops when one is set", () => {
    const seen: boolean[] = [];
    const stop = onKeyNeeded((needed) => seen.push(needed));
    keyNeeded();
    setApiKey("k");
    stop();
    expect(seen).toEqual([false, true, false]);
  });
});

describe("scopes", () => {
  it("hides write buttons from a read key and shows all while the scope is unknown", () => {
    expect(allows("reevaluate", "read")).toBe(false);
    expect(allows("reevaluate", "write")).toBe(true);
    expect(allows("saveSlice", "admin")).toBe(true);
    expect(allows("reevaluate", null)).toBe(true);
  });
});
