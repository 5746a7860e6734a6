// The status page's transport-security notice: a runner started with --insecure says so on the
// page, in /status (`insecure`) and in /metrics (`edge_runner_insecure`), so a fleet scan finds it.
// `renderSecurityNotice` is self-contained like page-view.ts: page.ts sends its source to the
// browser, which re-renders it from /status.

import type { StatusDocument } from "./document.ts";

export function renderSecurityNotice(doc: Pick<StatusDocument, "insecure" | "controllerUrl">): string {
  if (doc.insecure !== true) return "";
  const esc = (value: unknown): string =>
    String(value).replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch);
  const plain = /^http:/i.test(doc.controllerUrl);
  const what = plain
    ? `The controller is reached over plain http (${esc(doc.controllerUrl)}): the API key, job inputs and results cross the network unencrypted and can be changed on the way.`
    : "Plain http/ws to a non-loopback controller is allowed, should the controller URL ever point at one.";
  return `<div class="insecure t-bad" role="alert"><b>Insecure: started with --insecure.</b> ${what} Never in production.</div>`;
}
