// "code: message" of what a promise rejects with, or "resolved": one line to assert on.

export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return `${(error as { code: string }).code}: ${(error as Error).message}`;
  }
  return "resolved";
}
