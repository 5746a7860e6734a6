// Cutting text that has not been redacted yet (an API's error message, quoted before the runner
// masks it): a cut inside a word could keep the first characters of a secret the text echoed,
// which then no longer match it. So the cut falls on a space, and a first word longer than the
// whole limit is dropped.

/** `text` if it fits in `max` characters, else its words up to the last space within `max`, and "…". */
export function clipWords(text: string, max: number): string {
  if (text.length <= max) return text;
  const space = text.lastIndexOf(" ", max);
  return `${space > 0 ? text.slice(0, space) : ""}…`;
}
