// ACR login: an Azure AD token exchanged for an ACR refresh token (stub until the GCR/ACR helper lands it).
import type { CloudLogin } from "./cloud.ts";

export const acrLogin: CloudLogin = async () => undefined;
