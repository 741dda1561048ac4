import { useState } from "preact/hooks";
import { request } from "../api/client";
import { CreateSliceMutation } from "../api/operations";
import { allows } from "../api/permissions";
import type { FilterOp, ItemFilter } from "../gql/graphql";
import { OPERATORS, type Builder } from "../lib/filters";

/** Metadata conditions (field, operator, value) and ground-truth labels, ANDed with the chosen
 * slice; "save as slice" stores the combined filter as a new slice of the dataset. */
export function FilterBuilder({
  builder,
  labels,
  fields,
  datasetId,
  combined,
  onChange,
  onSaved,
}: {
  builder: Builder;
  labels: readonly string[];
  fields: readonly string[];
  datasetId: string;
  combined: ItemFilter | null;
  onChange: (builder: Builder) => void;
  onSaved: (slice: { id: string; name: string }) => void;
}) {
  const [name, setName] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const update = (k: number, change: Partial<Builder["conditions"][number]>) =>
    onChange({ ...builder, conditions: builder.conditions.map((c, j) => (j === k ? { ...c, ...change } : c)) });
  return (
    <fieldset class="card filters">
      <legend>Filter</legend>
      <datalist id="metadata-fields">
        {fields.map((field) => (
          <option key={field} value={field} />
        ))}
      </datalist>
      {builder.conditions.map((condition, k) => {
        const operator = OPERATORS.find((o) => o.op === condition.op);
        return (
          <div class="condition" key={k} data-testid="filter-condition">
            <label>
              Metadata field
              <input list="metadata-fields" value={condition.field} onInput={(e) => update(k, { field: e.currentTarget.value })} />
            </label>
            <label>
              Operator
              <select value={condition.op} onChange={(e) => update(k, { op: e.currentTarget.value as FilterOp })}>
                {OPERATORS.map((o) => (
                  <option key={o.op} value={o.op}>
                    {o.text}
                  </option>
                ))}
              </select>
            </label>
            {operator?.needsValue && (
              <label>
                Value{operator.list ? " (comma-separated)" : ""}
                <input value={condition.value} onInput={(e) => update(k, { value: e.currentTarget.value })} />
              </label>
            )}
            <button type="button" onClick={() => onChange({ ...builder, conditions: builder.conditions.filter((_, j) => j !== k) })}>
              Remove
            </button>
          </div>
        );
      })}
      <button type="button" onClick={() => onChange({ ...builder, conditions: [...builder.conditions, { field: "", op: "EQ", value: "" }] })}>
        Add metadata condition
      </button>
      <label>
        Items with ground truth labelled
        <select
          multiple
          size={Math.min(6, Math.max(2, labels.length))}
          onChange={(e) => onChange({ ...builder, labels: [...e.currentTarget.selectedOptions].map((o) => o.value) })}
        >
          {labels.map((label) => (
            <option key={label} value={label} selected={builder.labels.includes(label)}>
              {label}
            </option>
          ))}
        </select>
      </label>
      {allows("saveSlice") && (
        <form
          class="save-slice"
          onSubmit={async (event) => {
            event.preventDefault();
            if (!combined) return;
            setMessage(null);
            try {
              const data = await request(CreateSliceMutation, { input: { datasetId, name: name.trim(), filter: combined } });
              const answer = data.createSlice;
              if (answer.__typename === "Slice") {
                setName("");
                setMessage(`Saved slice “${answer.name}”.`);
                onSaved(answer);
              } else {
                const issues = answer.__typename === "InvalidInputError" ? answer.issues.map((i) => `${i.path}: ${i.message}`).join("; ") : "";
                setMessage(`${answer.message}${issues ? ` (${issues})` : ""}`);
              }
            } catch (error) {
              setMessage(error instanceof Error ? error.message : String(error));
            }
          }}
        >
          <label>
            Slice name
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <button type="submit" disabled={!combined || !name.trim()}>
            Save as slice
          </button>
        </form>
      )}
      {message && <p role="status">{message}</p>}
    </fieldset>
  );
}
