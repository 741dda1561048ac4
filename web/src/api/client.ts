/** GraphQL over HTTP and the job subscription over graphql-transport-ws, with the API key
 * when the server asks for one. Typed documents come from the committed SDL (src/gql). */
import { createClient, type Client } from "graphql-ws";
import type { TypedDocumentString } from "../gql/graphql";
import { authHeaders, connectionParams, keyNeeded } from "./auth";

export class GraphQLError extends Error {
  constructor(
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

export class AuthRequired extends Error {}

export async function request<R, V>(document: TypedDocumentString<R, V>, variables?: V, signal?: AbortSignal): Promise<R> {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...authHeaders() },
    body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
    signal,
  });
  if (response.status === 401 || response.status === 403) {
    const challenge = response.headers.get("WWW-Authenticate") ?? "";
    if (response.status === 401 || /bearer/i.test(challenge)) {
      keyNeeded();
      throw new AuthRequired("this server needs an API key");
    }
  }
  const body = (await response.json().catch(() => null)) as {
    data?: R;
    errors?: { message: string; extensions?: { code?: string } }[];
  } | null;
  if (!body) throw new GraphQLError(`HTTP ${response.status}`);
  if (body.errors?.length) {
    const first = body.errors[0];
    if (first.extensions?.code === "UNAUTHENTICATED") keyNeeded();
    throw new GraphQLError(first.message, first.extensions?.code ?? null);
  }
  if (!response.ok || body.data === undefined) throw new GraphQLError(`HTTP ${response.status}`);
  return body.data;
}

let socket: Client | null = null;

function socketClient(): Client {
  if (!socket) {
    const url = new URL("/graphql", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    socket = createClient({ url: url.toString(), connectionParams, lazy: true, retryAttempts: 3 });
  }
  return socket;
}

/** Drops the socket, so the next subscription connects with the current key. */
export function resetSocket(): void {
  socket?.dispose();
  socket = null;
}

export function subscribe<R, V>(
  document: TypedDocumentString<R, V>,
  variables: V,
  sink: { next: (data: R) => void; error: (error: unknown) => void; complete: () => void },
): () => void {
  return socketClient().subscribe<R>(
    { query: document.toString(), variables: variables as Record<string, unknown> },
    {
      next: (result) => {
        if (result.errors?.length) sink.error(new GraphQLError(result.errors[0].message));
        else if (result.data) sink.next(result.data as R);
      },
      error: sink.error,
      complete: sink.complete,
    },
  );
}
