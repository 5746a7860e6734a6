// A faithful fake of the Google APIs the gcp: backend uses: the OAuth 2.0 token endpoint for a
// service-account JWT assertion (RFC 7523; the fake checks the RS256 signature with the test
// account's public key, iss, aud, scope and exp), the metadata server's token
// (Metadata-Flavor: Google), and Secret Manager's versions/*:access with its error shape
// {"error": {code, message, status}}: 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 NOT_FOUND,
// and 400 FAILED_PRECONDITION for a version that is not ENABLED ("Secret Version [...] is in
// DISABLED state."; `latest` is the newest version whatever its state, as in Secret Manager).

import { generateKeyPairSync } from "node:crypto";
import { importSPKI, jwtVerify } from "jose";
import { crc32c } from "../../src/secrets/references/crc32c.ts";
import { FakeServer, type FakeReply, type FakeRequest } from "./http-fake.ts";

export async function startFakeGcp(options: { now?: () => number } = {}) {
  const now = options.now ?? Date.now;
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const email = "edge-runner@test-project.iam.gserviceaccount.com";
  const tokens = new Map<string, { expiresAt: number; allowed: boolean }>();
  /** "projects/P/secrets/S" → versions (index 0 = version 1). */
  const secrets = new Map<string, string[]>();
  /** "projects/P/secrets/S/N" → a state other than ENABLED. */
  const states = new Map<string, "DISABLED" | "DESTROYED">();
  let corrupt = false;
  let exchanges = 0;
  let counter = 0;
  let url = "";

  const gerror = (code: number, status: string, message: string): FakeReply => ({ status: code, body: { error: { code, message, status } } });
  const issue = (allowed = true) => {
    const token = `ya29.fake-${++counter}-${Math.random().toString(36).slice(2)}`;
    tokens.set(token, { expiresAt: now() + 3600_000, allowed });
    return { status: 200, body: { access_token: token, expires_in: 3599, token_type: "Bearer" } } satisfies FakeReply;
  };

  const handle = async (req: FakeRequest): Promise<FakeReply> => {
    if (req.method === "POST" && req.path === "/token") {
      const form = new URLSearchParams(req.body);
      if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") return { status: 400, body: { error: "unsupported_grant_type", error_description: "Invalid grant_type" } };
      try {
        const { payload, protectedHeader } = await jwtVerify(form.get("assertion") ?? "", await importSPKI(publicKey.export({ type: "spki", format: "pem" }) as string, "RS256"), {
          issuer: email,
          audience: `${url}/token`,
          algorithms: ["RS256"],
          currentDate: new Date(now()),
        });
        if (payload.scope !== "https://www.googleapis.com/auth/cloud-platform" || protectedHeader.kid !== "key-id-1") throw new Error("scope or kid");
        if ((payload.exp ?? 0) - (payload.iat ?? 0) > 3600) throw new Error("lifetime");
      } catch {
        return { status: 400, body: { error: "invalid_grant", error_description: "Invalid JWT Signature." } };
      }
      exchanges++;
      return issue();
    }
    if (req.path === "/computeMetadata/v1/instance/service-accounts/default/token") {
      if (req.headers["metadata-flavor"] !== "Google") return { status: 403, body: undefined };
      return issue();
    }
    const match = /^\/v1\/(projects\/[^/]+\/secrets\/[^/]+)\/versions\/([^/:]+):access$/.exec(req.path);
    if (req.method !== "GET" || match === null) return gerror(404, "NOT_FOUND", "Method not found.");
    const auth = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""));
    const token = auth === null ? undefined : tokens.get(auth[1]!);
    if (token === undefined || now() >= token.expiresAt) {
      return gerror(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.");
    }
    const [, name, version] = match;
    if (!token.allowed || name!.includes("forbidden")) {
      return gerror(403, "PERMISSION_DENIED", `Permission 'secretmanager.versions.access' denied for resource '${name}/versions/${version}' (or it may not exist).`);
    }
    const versions = secrets.get(name!);
    const number = version === "latest" ? versions?.length ?? 0 : Number(version);
    const value = versions?.[number - 1];
    if (value === undefined) return gerror(404, "NOT_FOUND", `Secret Version [${name}/versions/${version}] not found.`);
    const state = states.get(`${name}/${number}`);
    if (state !== undefined) return gerror(400, "FAILED_PRECONDITION", `Secret Version [${name!.replace(/projects\/[^/]+/, "projects/123456789")}/versions/${number}] is in ${state} state.`);
    const bytes = Buffer.from(value, "utf8");
    const crc = corrupt ? (crc32c(bytes) ^ 1) >>> 0 : crc32c(bytes);
    return { status: 200, body: { name: `${name!.replace(/projects\/[^/]+/, "projects/123456789")}/versions/${number}`, payload: { data: bytes.toString("base64"), dataCrc32c: String(crc) } } };
  };

  const server = new FakeServer().any(handle);
  url = await server.start();
  return {
    url: server.url,
    requests: server.requests,
    close: () => server.stop(),
    serviceAccountJson: JSON.stringify({
      type: "service_account",
      project_id: "test-project",
      private_key_id: "key-id-1",
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
      client_email: email,
      client_id: "1234567890",
      token_uri: `${server.url}/token`,
    }),
    addVersion: (name: string, value: string) => secrets.set(name, [...(secrets.get(name) ?? []), value]),
    corrupt: (on: boolean) => (corrupt = on),
    /** Disables or destroys version `n` of `name` (projects/P/secrets/S). */
    setState: (name: string, n: number, state: "DISABLED" | "DESTROYED") => states.set(`${name}/${n}`, state),
    /** The next `times` :access calls get `answer` (token calls are not hit). */
    failAccess: (answer: FakeReply, times = 1) => server.fault({ times, match: (req) => req.path.endsWith(":access"), reply: () => answer }),
    /** The next request gets `answer`, whatever it asks. */
    fail: (answer: FakeReply) => server.fault({ times: 1, reply: () => answer }),
    expireTokens: () => tokens.clear(),
    get exchanges() {
      return exchanges;
    },
  };
}
