// GCR / Artifact Registry login through Application Default Credentials (stub until the GCR/ACR helper lands it).
import type { CloudLogin } from "./cloud.ts";

export const gcrLogin: CloudLogin = async () => undefined;
