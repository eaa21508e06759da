// The mixer's keyboard shortcuts on the job page: Space play/pause, 1–9 pick a stem, M mute it,
// S solo it, L loop. Keys typed into a text field, or with Ctrl/Meta/Alt, are left alone.

export interface KeyActions {
  togglePlay(): void;
  toggleMute(): void;
  toggleSolo(): void;
  toggleLoop(): void;
  /** Pick stem `index` (0-based) when it exists. */
  select(index: number): void;
  /** How many stems there are (1–9 pick among them). */
  count(): number;
}

/** The one-line reminder shown beside the presets. */
export const KEYS_HINT = "Keys: Space play/pause · 1–4 pick a stem · M mute · S solo · L loop";

/** Controls whose keys a shortcut must not take (typing, choosing). */
function typingInto(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") {
    return true;
  }
  return (
    target instanceof HTMLInputElement &&
    !["range", "radio", "checkbox", "button"].includes(target.type)
  );
}

/** Listen on the document; returns the function that stops listening. */
export function bindKeys(actions: KeyActions): () => void {
  const keydown = (event: KeyboardEvent) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typingInto(event.target)) return;
    const key = event.key.toLowerCase();
    if (key === " ") {
      event.preventDefault();
      actions.togglePlay();
    } else if (key === "m") {
      actions.toggleMute();
    } else if (key === "s") {
      actions.toggleSolo();
    } else if (key === "l") {
      actions.toggleLoop();
    } else if (/^[1-9]$/.test(key) && Number(key) <= actions.count()) {
      actions.select(Number(key) - 1);
    }
  };
  // Space on a focused button would click it on key-up as well as toggle playback.
  const keyup = (event: KeyboardEvent) => {
    if (event.key === " " && event.target instanceof HTMLButtonElement) event.preventDefault();
  };
  document.addEventListener("keydown", keydown);
  document.addEventListener("keyup", keyup);
  return () => {
    document.removeEventListener("keydown", keydown);
    document.removeEventListener("keyup", keyup);
  };
}
