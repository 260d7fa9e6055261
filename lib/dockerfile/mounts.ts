// RUN --mount=type=cache,target=/root/.cache,... values. Field values stay unexpanded; defaults that depend
// on other fields (cache id from target, secret target from id) are filled in by `mountDefaults` after expansion.
import { ParseFailure } from "./errors.ts";
import type { RunMount } from "./types.ts";

const TYPES = new Set(["bind", "cache", "tmpfs", "secret", "ssh"]);
const SHARING = new Set(["shared", "private", "locked"]);

// CSV fields as Go's encoding/csv reads them: commas separate, double quotes group.
function csvFields(value: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted) {
      if (ch === '"' && value[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"' && cur === "") quoted = true;
    else if (ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (quoted) throw new ParseFailure(`invalid mount ${JSON.stringify(value)}: unterminated quote`);
  out.push(cur);
  return out;
}

function parseBool(key: string, value: string | undefined): boolean {
  if (value === undefined) return true;
  const v = value.toLowerCase();
  if (["1", "t", "true"].includes(v)) return true;
  if (["0", "f", "false"].includes(v)) return false;
  throw new ParseFailure(`invalid value for ${key}: ${value}`);
}

export function parseMount(value: string): RunMount {
  const fields = csvFields(value);
  let type: RunMount["type"] = "bind";
  let readonly: boolean | undefined;
  const m: Omit<RunMount, "type" | "readonly"> = {};
  for (const field of fields) {
    const eq = field.indexOf("=");
    const key = (eq >= 0 ? field.slice(0, eq) : field).trim().toLowerCase();
    const val = eq >= 0 ? field.slice(eq + 1) : undefined;
    const need = (): string => {
      if (val === undefined) throw new ParseFailure(`invalid field '${field}' must be a key=value pair`);
      return val;
    };
    switch (key) {
      case "type": {
        const t = need().toLowerCase();
        if (!TYPES.has(t)) throw new ParseFailure(`unsupported mount type ${JSON.stringify(t)}`);
        type = t as RunMount["type"];
        break;
      }
      case "from":
        m.from = need();
        break;
      case "source":
      case "src":
        m.source = need();
        break;
      case "target":
      case "dst":
      case "destination":
        m.target = need();
        break;
      case "readonly":
      case "ro":
        readonly = parseBool(key, val);
        break;
      case "readwrite":
      case "rw":
        readonly = !parseBool(key, val);
        break;
      case "required":
        m.required = parseBool(key, val);
        break;
      case "id":
        m.id = need();
        break;
      case "sharing": {
        const s = need().toLowerCase();
        if (!SHARING.has(s)) throw new ParseFailure(`unsupported sharing value ${JSON.stringify(s)}`);
        m.sharing = s;
        break;
      }
      case "mode":
        m.mode = need();
        break;
      case "uid":
        m.uid = need();
        break;
      case "gid":
        m.gid = need();
        break;
      case "size":
        m.size = need();
        break;
      case "env":
        m.env = need();
        break;
      default:
        throw new ParseFailure(`unexpected key '${key}' in '${field}'`);
    }
  }
  // bind and secret mounts are read-only unless asked otherwise; cache and tmpfs are writable.
  const ro = readonly ?? (type === "bind" || type === "secret" || type === "ssh");
  if ((type === "bind" || type === "cache" || type === "tmpfs") && !m.target) {
    throw new ParseFailure(`mount type ${type} requires a target: --mount=${value}`);
  }
  return { type, ...m, readonly: ro };
}

/** Fills the defaults BuildKit derives from other fields; call on an expanded mount. */
export function mountDefaults(m: RunMount, index: number): RunMount {
  const out = { ...m };
  if (out.type === "cache") {
    out.id ??= out.target;
    out.sharing ??= "shared";
  }
  if (out.type === "secret") {
    if (!out.id && out.target) out.id = out.target.split("/").filter(Boolean).pop();
    if (!out.target && !out.env && out.id) out.target = `/run/secrets/${out.id}`;
  }
  if (out.type === "ssh") {
    out.id ??= "default";
    out.target ??= `/run/buildkit/ssh_agent.${index}`;
  }
  return out;
}
