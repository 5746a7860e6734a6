// Text into HTML (element content or a quoted attribute) for the server-rendered status sections.
// page-view.ts and security-section.ts keep their own inline copy: their source is sent to the
// browser and must not reference anything outside the function.

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch);
}
