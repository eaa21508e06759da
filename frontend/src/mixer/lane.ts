// Pointer gestures on a stem's waveform lane: a click seeks there; a drag of 5 px or more
// previews a region while it moves and sets it as the loop when released.

import type { LoopRegion } from "../player";

/** A drag shorter than this (px) is a click. */
const DRAG_PX = 5;

export interface LaneActions {
  /** The song's length in seconds (the lane's full width). */
  duration(): number;
  seek(seconds: number): void;
  /** Show a region being dragged (not yet the loop). */
  preview(region: LoopRegion): void;
  setLoop(region: LoopRegion): void;
}

export function attachLane(lane: HTMLElement, actions: LaneActions): void {
  let from: number | null = null;
  let startX = 0;
  let dragging = false;
  const at = (event: PointerEvent) => {
    const box = lane.getBoundingClientRect();
    const fraction = Math.max(0, Math.min(1, (event.clientX - box.left) / box.width));
    return fraction * actions.duration();
  };
  const region = (a: number, b: number): LoopRegion => ({
    start: Math.min(a, b),
    end: Math.max(a, b),
  });
  lane.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    lane.setPointerCapture(event.pointerId);
    from = at(event);
    startX = event.clientX;
    dragging = false;
  });
  lane.addEventListener("pointermove", (event) => {
    if (from === null) return;
    if (!dragging && Math.abs(event.clientX - startX) < DRAG_PX) return;
    dragging = true;
    actions.preview(region(from, at(event)));
  });
  lane.addEventListener("pointerup", (event) => {
    if (from === null) return;
    if (dragging) actions.setLoop(region(from, at(event)));
    else actions.seek(from);
    from = null;
  });
}
