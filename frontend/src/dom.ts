// A tiny element builder and formatting helpers: the page is plain TypeScript and DOM.

type Child = Node | string | number | null | undefined | false;
type Handler = (event: never) => void;
export type Attrs = Record<string, string | number | boolean | Handler | null | undefined>;

/** `h("button", {class: "x", onclick: fn, "aria-label": "Play"}, "Play")`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value as EventListener);
    } else if (name === "class") {
      element.className = String(value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, ...children);
  return element;
}

export function append(parent: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
}

/** An SVG element (charts). */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  ...children: (SVGElement | string)[]
): SVGElementTagNameMap[K] {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

let counter = 0;
/** A unique element id (for label/for and aria-describedby pairs). */
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** 83.4 -> "1:23.4"; with `tenths` false -> "1:23". */
export function formatTime(seconds: number, tenths = true): string {
  const s = Math.max(0, seconds);
  const minutes = Math.floor(s / 60);
  const rest = s - minutes * 60;
  const text = tenths
    ? rest.toFixed(1).padStart(4, "0")
    : Math.floor(rest).toString().padStart(2, "0");
  return `${minutes}:${text}`;
}

/** Durations for humans: "4 s", "1 min 05 s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  return `${minutes} min ${(s % 60).toString().padStart(2, "0")} s`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

/** A signed dB figure with a true minus sign: "+3.0 dB", "−6.5 dB". */
export function formatDb(db: number, digits = 1, unit = "dB"): string {
  if (!Number.isFinite(db)) return `−∞ ${unit}`;
  const text = Math.abs(db).toFixed(digits);
  const sign = db > 0 && Number(text) !== 0 ? "+" : db < 0 && Number(text) !== 0 ? "−" : "";
  return `${sign}${text} ${unit}`.trim();
}

export function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
