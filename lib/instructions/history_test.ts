import { expect, test } from "bun:test";
import { exposeCreatedBy, goDuration, goList, goQuote, goQuoteList, goQuoteRune } from "./history.ts";

test("Go durations as time.Duration.String() prints them", () => {
  expect(goDuration(0)).toBe("0s");
  expect(goDuration(5e9)).toBe("5s");
  expect(goDuration(90e9)).toBe("1m30s");
  expect(goDuration(7200e9)).toBe("2h0m0s");
  expect(goDuration(1.5e9)).toBe("1.5s");
  expect(goDuration(500e6)).toBe("500ms");
  expect(goDuration(1500)).toBe("1.5µs");
  expect(goDuration(3)).toBe("3ns");
});

test("Go %q of strings, lists and runes", () => {
  expect(goQuote('a"b\\c')).toBe('"a\\"b\\\\c"');
  expect(goQuote("tab\there\n\x01")).toBe('"tab\\there\\n\\x01"');
  expect(goQuote("héllo")).toBe('"héllo"');
  expect(goQuoteList(["/bin/sh", "-c", "echo hi"])).toBe('["/bin/sh" "-c" "echo hi"]');
  expect(goList(["/bin/sh", "-ec"])).toBe("[/bin/sh -ec]");
  expect(goQuoteRune(0)).toBe("'\\x00'");
  expect(goQuoteRune(4)).toBe("'\\x04'");
  expect(goQuoteRune(10)).toBe("'\\n'");
  expect(goQuoteRune(65)).toBe("'A'");
  expect(goQuoteRune(39)).toBe("'\\''");
});

test("EXPOSE prints a Go map with sorted keys", () => {
  expect(exposeCreatedBy(["80/tcp", "53/udp", "132/sctp", "80/tcp"])).toBe("EXPOSE map[132/sctp:{} 53/udp:{} 80/tcp:{}]");
});
