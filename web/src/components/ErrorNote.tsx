import { AuthRequired } from "../api/client";

export function ErrorNote({ error }: { error: Error }) {
  if (error instanceof AuthRequired) return null; // the key dialog is showing
  return (
    <p role="alert" class="error">
      {error.message}
    </p>
  );
}
