// What every GitHub call of a job authenticates with: a token (tokenRef) as it is, or a GitHub
// App's installation token asked for before each call (app-auth.ts hands out a cached one only
// while it has 5 minutes left), so a run that outlasts the token is followed and cancelled with a
// new one; a 401 drops the refused token and the call is tried once more with a new one.

import { EdgeError } from "../../../errors.ts";
import type { ActionContext } from "../../sdk.ts";
import type { ApiClient, CallAuth, CallCredential } from "../api-client.ts";
import { forgetInstallationToken, GITHUB_HEADERS, installationToken, type AppAuth } from "./app-auth.ts";

export interface GithubAuthInput {
  owner: string;
  repo: string;
  app?: { appId: string | number; privateKeyRef?: string; privateKey?: string; installationId?: string | number };
  tokenRef?: string;
}

/** The job's credential; an App's first token is asked for here, so a refused App fails before the dispatch. */
export async function githubCredential(api: ApiClient, input: GithubAuthInput, baseUrl: string, ctx: ActionContext): Promise<CallCredential> {
  if (input.app !== undefined) {
    const privateKeyPem = input.app.privateKey ?? (await ctx.secrets.get(input.app.privateKeyRef ?? ""));
    const auth: AppAuth = { ...appAuth(input, baseUrl), privateKeyPem };
    const credential: CallCredential = {
      async current(signal) {
        const token = await installationToken(api, auth, (secret) => ctx.secrets.mask(secret), Date.now, signal);
        return { headers: bearer(token.token), budget: token.budget };
      },
      renew(refused: CallAuth) {
        forgetInstallationToken(auth, refused.headers.authorization?.replace(/^Bearer /, ""));
        return true;
      },
    };
    await credential.current(ctx.signal);
    return credential;
  }
  if (input.tokenRef !== undefined) {
    const fixed: CallAuth = { headers: bearer(await ctx.secrets.get(input.tokenRef)) };
    // A token the user gave cannot be renewed here: a 401 fails the call.
    return { current: async () => fixed, renew: () => false };
  }
  throw new EdgeError("input_invalid", "GitHub: give app credentials or tokenRef");
}

/** Which App installation's token a job uses (the token cache's key), without the private key. */
export function appAuth(input: GithubAuthInput, baseUrl: string): Omit<AppAuth, "privateKeyPem"> {
  const app = input.app ?? { appId: "" };
  return { baseUrl, appId: String(app.appId), owner: input.owner, repo: input.repo, ...(app.installationId === undefined ? {} : { installationId: String(app.installationId) }) };
}

function bearer(token: string): Record<string, string> {
  return { ...GITHUB_HEADERS, authorization: `Bearer ${token}` };
}
