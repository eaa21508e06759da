// The master's level meter: the output's peak each frame, falling back 1.2 dB a frame, over
// −60…0 dBFS, red near 0 dBFS; its ARIA value is updated at most four times a second.

import { formatDb, h } from "../dom";
import type { Player } from "../player";

const FLOOR_DB = -60;
const FALL_DB_PER_FRAME = 1.2;
const ARIA_EVERY_MS = 250;

export class MeterView {
  readonly root: HTMLElement;
  private fill: HTMLElement;
  private level = -Infinity;
  private ariaAt = 0;
  private scratch = new Float32Array(2048);

  constructor() {
    this.fill = h("span", { class: "meter-fill" });
    this.root = h(
      "div",
      {
        class: "meter",
        role: "meter",
        "aria-label": "Master output level (dBFS)",
        "aria-valuemin": FLOOR_DB,
        "aria-valuemax": 0,
        "aria-valuenow": FLOOR_DB,
      },
      this.fill,
      h("span", { class: "meter-zero", "aria-hidden": "true" }),
    );
  }

  /** Read the player's level and show it (once per animation frame). */
  tick(player: Player): void {
    this.level = Math.max(player.levelDb(this.scratch), this.level - FALL_DB_PER_FRAME);
    const shown = Number.isFinite(this.level) ? this.level : FLOOR_DB;
    const percent = ((shown - FLOOR_DB) / -FLOOR_DB) * 100;
    this.fill.style.width = `${Math.max(0, Math.min(100, percent))}%`;
    this.root.classList.toggle("clip", shown > -0.1);
    const now = performance.now();
    if (now - this.ariaAt > ARIA_EVERY_MS) {
      this.ariaAt = now;
      this.root.setAttribute("aria-valuenow", String(Math.round(Math.max(FLOOR_DB, shown))));
      const text = Number.isFinite(this.level) ? formatDb(this.level, 1, "dBFS") : "silent";
      this.root.setAttribute("aria-valuetext", text);
    }
  }
}
