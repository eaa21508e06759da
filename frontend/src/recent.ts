// This browser's recent jobs and albums, kept in localStorage (the server does not list
// another browser's uploads as "yours" when it runs without API keys).

const STORAGE = "stemdeck.recent";
const KEEP = 30;

export interface RecentEntry {
  kind: "job" | "batch";
  id: string;
  title: string;
  created: number;
  tracks?: number;
}

export function recentEntries(): RecentEntry[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(STORAGE) ?? "[]");
    return Array.isArray(value) ? (value as RecentEntry[]) : [];
  } catch {
    return [];
  }
}

export function remember(entry: RecentEntry): void {
  const rest = recentEntries().filter((e) => e.id !== entry.id);
  localStorage.setItem(STORAGE, JSON.stringify([entry, ...rest].slice(0, KEEP)));
}

export function forget(id: string): void {
  localStorage.setItem(STORAGE, JSON.stringify(recentEntries().filter((e) => e.id !== id)));
}
