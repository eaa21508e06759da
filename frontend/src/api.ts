// Talking to the StemDeck API: JSON reads, uploads with byte progress (XMLHttpRequest: fetch
// cannot report upload progress), downloads with progress, and the server's error messages
// passed on verbatim ({"detail": "..."} on every error).

const KEY_STORAGE = "stemdeck.apiKey";

/** The API key this browser sends (servers started with API keys need one), or "". */
export function apiKey(): string {
  return localStorage.getItem(KEY_STORAGE) ?? "";
}

export function setApiKey(key: string): void {
  if (key.trim()) localStorage.setItem(KEY_STORAGE, key.trim());
  else localStorage.removeItem(KEY_STORAGE);
}

function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** An answer that was not 2xx; `message` is the server's own `detail`, unchanged. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The `detail` of an error body, verbatim; the raw text when it is not the API's JSON. */
export function errorDetail(status: number, text: string): string {
  try {
    const body: unknown = JSON.parse(text);
    if (body && typeof body === "object" && "detail" in body) {
      const detail = (body as { detail: unknown }).detail;
      return typeof detail === "string" ? detail : JSON.stringify(detail);
    }
  } catch {
    // not JSON: a proxy's page, say
  }
  return text.trim().slice(0, 500) || `the server answered HTTP ${status} with no message`;
}

/** API paths are relative, so the page works behind a path prefix too. */
export function apiUrl(path: string): string {
  return path.replace(/^\//, "");
}

async function failed(response: Response): Promise<never> {
  throw new ApiError(response.status, errorDetail(response.status, await response.text()));
}

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(apiUrl(path), {
      ...init,
      headers: { ...authHeaders(), ...(init.headers ?? {}) },
    });
  } catch {
    throw new ApiError(0, "cannot reach the StemDeck server; is it running?");
  }
  if (!response.ok) await failed(response);
  return response;
}

/** GET JSON; also the server's clock (Date header, s since epoch) for elapsed times. */
export async function getJson<T>(path: string): Promise<{ data: T; serverTime: number | null }> {
  const response = await request(path, { headers: { Accept: "application/json" } });
  const date = response.headers.get("date");
  const serverTime = date ? Date.parse(date) / 1000 : null;
  return { data: (await response.json()) as T, serverTime };
}

export async function postJson<T>(path: string): Promise<T> {
  const response = await request(path, { method: "POST" });
  return (await response.json()) as T;
}

/** The body of `path` as bytes, reporting (loaded, total) as it arrives. */
export async function getBytes(
  path: string,
  onProgress?: (loaded: number, total: number) => void,
  signal?: AbortSignal,
): Promise<ArrayBuffer> {
  const response = await request(path, signal ? { signal } : {});
  const total = Number(response.headers.get("content-length") ?? 0);
  if (!response.body || !onProgress) return response.arrayBuffer();
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.byteLength;
    onProgress(loaded, total);
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out.buffer;
}

export interface Upload<T> {
  done: Promise<T>;
  abort: () => void;
}

/** POST a multipart form with XMLHttpRequest so the page can show bytes sent. */
export function uploadForm<T>(
  path: string,
  form: FormData,
  onProgress: (loaded: number, total: number) => void,
): Upload<T> {
  const xhr = new XMLHttpRequest();
  const done = new Promise<T>((resolve, reject) => {
    xhr.open("POST", apiUrl(path));
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.total);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(JSON.parse(xhr.responseText) as T);
      } else {
        reject(new ApiError(xhr.status, errorDetail(xhr.status, xhr.responseText)));
      }
    };
    xhr.onerror = () =>
      reject(
        new ApiError(
          0,
          "the connection closed during the upload (the server may be down, or the file " +
            "larger than its upload limit)",
        ),
      );
    xhr.onabort = () => reject(new ApiError(0, "upload cancelled"));
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}

/** Save a file the API serves: a plain link when no key is needed (the browser streams it to
 * disk), else fetched with the key and saved from memory. */
export async function downloadFromApi(path: string, filename: string): Promise<void> {
  if (!apiKey()) {
    saveUrl(apiUrl(path), filename);
    return;
  }
  const blob = await (await request(path)).blob();
  saveBlob(blob, filename);
}

export function saveUrl(url: string, filename: string): void {
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.rel = "noopener";
  document.body.append(link);
  link.click();
  link.remove();
}

export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  saveUrl(url, filename);
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
