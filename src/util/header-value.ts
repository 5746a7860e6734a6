// What a value must look like to be sent in an HTTP header: one line of visible ASCII (a bearer
// token: RFC 6750's b64token characters). Checked where the value comes from, so the error names
// that source before any call, instead of the runtime refusing the header mid-call ("Header
// 'Authorization' has invalid value", never showing the value).

const HEADER_SAFE = /^[\x21-\x7e]+$/;
/** RFC 6750 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then any "=". */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The first character that keeps `value` out of a header, named ("a line break (U+000A)");
 * undefined when it can be sent. Never quotes the value.
 */
export function headerUnsafeCharacter(value: string): string | undefined {
  if (HEADER_SAFE.test(value)) return undefined;
  return describeFirst(value, (c) => HEADER_SAFE.test(c));
}

/** As headerUnsafeCharacter, for a bearer token (`Authorization: Bearer <b64token>`). */
export function bearerTokenUnsafeCharacter(value: string): string | undefined {
  if (B64TOKEN.test(value)) return undefined;
  const bad = headerUnsafeCharacter(value);
  if (bad !== undefined) return bad;
  // Visible ASCII, but not a b64token: a character outside its set, or "=" before the end.
  const at = [...value].findIndex((c, i, all) => !/[A-Za-z0-9\-._~+/=]/.test(c) || (c === "=" && all.slice(i).some((d) => d !== "=")));
  return describe([...value][at] ?? "");
}

function describeFirst(value: string, ok: (c: string) => boolean): string {
  if (value === "") return "nothing (it is empty)";
  return describe([...value].find((c) => !ok(c)) ?? "");
}

function describe(bad: string): string {
  const code = bad.codePointAt(0) ?? 0;
  const what =
    code === 0x0a || code === 0x0d ? "a line break" : code === 0x20 ? "a space" : code < 0x20 || code === 0x7f ? "a control character" :
    code > 0x7e ? "a non-ASCII character" : "a character a bearer token cannot hold";
  return `${what} (U+${code.toString(16).toUpperCase().padStart(4, "0")})`;
}
