// jvmText(): an input's value as meshcloud's Kotlin runners write it into a GitLab variable or
// input and an Azure DevOps template parameter (`value.toString()` on what Jackson parsed).

import { expect, test } from "bun:test";
import { jvmText } from "../../../src/plugins/builtin/jvm-text.ts";

test("jvmText() writes strings as they are, lists and maps as Java does, numbers as Java prints Integer and Double", () => {
  expect(jvmText("data:text/plain;base64,aGk=")).toBe("data:text/plain;base64,aGk=");
  expect(jvmText(true)).toBe("true");
  expect(jvmText(false)).toBe("false");
  expect(jvmText(3)).toBe("3");
  expect(jvmText(-12345678901)).toBe("-12345678901");
  expect(jvmText(1.5)).toBe("1.5");
  expect(jvmText(12345678.9)).toBe("1.23456789E7");
  expect(jvmText(0.0001)).toBe("1.0E-4");
  expect(jvmText(["a", "b"])).toBe("[a, b]");
  expect(jvmText([])).toBe("[]");
  expect(jvmText({ team: "x", size: 2, tags: ["p", null] })).toBe("{team=x, size=2, tags=[p, null]}");
});

test("jvmText() gives undefined for a missing value (the input is left out), and null inside a list as Java writes it", () => {
  expect(jvmText(null)).toBeUndefined();
  expect(jvmText(undefined)).toBeUndefined();
  expect(jvmText([null])).toBe("[null]");
});
