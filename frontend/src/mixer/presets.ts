// The presets row: karaoke (vocals muted), a cappella (vocals alone), reset the whole mix; and
// the reminder of the keys.

import { h } from "../dom";
import { icon } from "../icons";
import { KEYS_HINT } from "./keys";
import type { MixerModel } from "./state";

export function presetsView(model: MixerModel): HTMLElement {
  const preset = (label: string | Node, aria: string, apply: () => void, enabled = true) =>
    h(
      "button",
      { type: "button", class: "ghost", "aria-label": aria, disabled: !enabled, onclick: apply },
      label,
    );
  const hasVocals = model.names.includes("vocals");
  return h(
    "div",
    { class: "presets", role: "group", "aria-label": "Presets" },
    h("span", { class: "muted" }, "Presets"),
    preset(
      h("span", { class: "with-icon" }, icon("mic"), "Karaoke"),
      "Karaoke preset: mute the vocals",
      () => model.karaoke(),
      hasVocals,
    ),
    preset("A cappella", "A cappella preset: vocals only", () => model.acappella(), hasVocals),
    preset("Reset mix", "Reset every fader, mute, solo and EQ", () => model.resetMix()),
    h("span", { class: "muted shortcuts" }, KEYS_HINT),
  );
}
