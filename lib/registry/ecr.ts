// ECR login (stub; replaced below in this change series).
import type { CloudLogin } from "./cloud.ts";

export const ecrLogin: CloudLogin = async () => undefined;
