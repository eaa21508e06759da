// StemDeck's web app: hash routes for the upload page, a job and an album.
//   #/               drop or pick songs; recent jobs and albums
//   #/jobs/<id>      progress, then the mixer, export and analysis
//   #/batches/<id>   an album's tracks

import "./style.css";
import { BatchView } from "./batch";
import { h } from "./dom";
import { EQ_BANDS } from "./eq";
import { HomeView } from "./home";
import { JobView } from "./job";
import type { MixerView } from "./mixer";

interface View {
  root: HTMLElement;
  dispose(): void;
}

let current: View | null = null;
const outlet = document.getElementById("app")!;

function route(): void {
  current?.dispose();
  const path = location.hash.replace(/^#/, "") || "/";
  const job = /^\/jobs\/([\w-]+)$/.exec(path);
  const batch = /^\/batches\/([\w-]+)$/.exec(path);
  if (job) {
    const view = new JobView(job[1]!);
    current = view;
    void view.start();
  } else if (batch) {
    const view = new BatchView(batch[1]!);
    current = view;
    void view.start();
  } else {
    current = new HomeView();
  }
  outlet.replaceChildren(current.root);
  window.scrollTo(0, 0);
  document.title = job ? "StemDeck · song" : batch ? "StemDeck · album" : "StemDeck";
}

// Files dropped anywhere on the page are uploaded (from any page: back to the start first).
document.addEventListener("dragover", (event) => {
  if (event.dataTransfer?.types.includes("Files")) event.preventDefault();
});
document.addEventListener("drop", (event) => {
  const files = Array.from(event.dataTransfer?.files ?? []);
  if (!files.length) return;
  event.preventDefault();
  if (!(current instanceof HomeView)) {
    history.pushState(null, "", "#/");
    route();
  }
  if (current instanceof HomeView) void current.submit(files);
});

window.addEventListener("hashchange", route);

const header = document.getElementById("site-header");
header?.append(
  h(
    "nav",
    { "aria-label": "Main" },
    h("a", { href: "#/" }, "Upload"),
    h("a", { href: "docs", target: "_blank", rel: "noopener" }, "API"),
  ),
);

/** For tests and debugging: the live mixer's nodes and state. */
declare global {
  interface Window {
    __stemdeck: {
      bands: typeof EQ_BANDS;
      mixer: () => MixerView | null;
    };
  }
}
window.__stemdeck = {
  bands: EQ_BANDS,
  mixer: () => (current instanceof JobView ? current.currentMixer : null),
};

route();
