import { useState } from 'preact/hooks';

// The API key for a gateway with AUTH_MODE=apikey. Applied on Save (or Enter), so that the page does not reconnect
// its feed on every keystroke; kept in sessionStorage by the caller.

export function ApiKeyField({ value, onChange }: { value: string; onChange: (key: string) => void }) {
  const [draft, setDraft] = useState(value);
  return (
    <form
      class="api-key"
      onSubmit={(event) => {
        event.preventDefault();
        onChange(draft.trim());
      }}
    >
      <label>
        <span>API key</span>
        <input
          type="password"
          name="apiKey"
          autoComplete="off"
          placeholder="only if the gateway needs one"
          value={draft}
          onInput={(event) => setDraft(event.currentTarget.value)}
        />
      </label>
      <button type="submit">{draft.trim() === value ? 'Saved' : 'Save'}</button>
    </form>
  );
}
