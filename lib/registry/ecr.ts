// ECR login: GetAuthorizationToken through the AWS SDK with its default credential chain (env keys, shared
// config/credentials files, web identity = IRSA, SSO, container and instance metadata), as amazon-ecr-credential-helper
// does. Loaded only when a registry needs it (see cloud.ts).
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { ECRPUBLICClient, GetAuthorizationTokenCommand as GetPublicAuthorizationTokenCommand } from "@aws-sdk/client-ecr-public";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { cloudProviderFor, ecrIsFips, ecrRegionOf, type CloudLogin } from "./cloud.ts";
import { CredentialError, type Credential } from "./keychain.ts";

/** The ECR Public API lives in one region whatever the caller's. */
const PUBLIC_REGION = "us-east-1";

const NO_CREDENTIALS = "set AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (IRSA), AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, "
  + "or AWS_PROFILE with ~/.aws/config, or run with an instance or task role";

/**
 * The SDK reads process.env itself (its credential chain, AWS_ENDPOINT_URL_*, AWS_REGION, profiles): under the CLI that
 * is the same environment as `env`. What decides where requests go is passed explicitly from `env` too, so a library
 * caller's environment wins over the process's.
 */
export const ecrLogin: CloudLogin = async (registry, { env, signal }) => {
  const isPublic = cloudProviderFor(registry) === "ecr-public";
  const region = isPublic ? PUBLIC_REGION : ecrRegionOf(registry) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new CredentialError(registry, `cannot tell the AWS region of ${registry} (ecr login): set AWS_REGION`);
  const stsEndpoint = env.AWS_ENDPOINT_URL_STS ?? env.AWS_ENDPOINT_URL;
  const credentials = fromNodeProviderChain({
    ...(env.AWS_PROFILE ? { profile: env.AWS_PROFILE } : {}),
    clientConfig: { region: env.AWS_REGION ?? region, ...(stsEndpoint ? { endpoint: stsEndpoint } : {}) },
  });
  const apiEndpoint = (isPublic ? env.AWS_ENDPOINT_URL_ECR_PUBLIC : env.AWS_ENDPOINT_URL_ECR) ?? env.AWS_ENDPOINT_URL;
  const config = { region, credentials, maxAttempts: 3, ...(apiEndpoint ? { endpoint: apiEndpoint } : {}) };
  const what = isPublic ? "ECR Public" : "ECR";
  let data: { authorizationToken?: string; expiresAt?: Date } | undefined;
  try {
    if (isPublic) {
      const client = new ECRPUBLICClient(config);
      data = (await client.send(new GetPublicAuthorizationTokenCommand({}), { abortSignal: signal })).authorizationData;
    } else {
      const client = new ECRClient({ ...config, useFipsEndpoint: ecrIsFips(registry) });
      data = (await client.send(new GetAuthorizationTokenCommand({}), { abortSignal: signal })).authorizationData?.[0];
    }
  } catch (e) {
    const err = e as Error;
    if (err.name === "CredentialsProviderError" || /could not load credentials/i.test(err.message)) {
      // The public gallery serves anonymous pulls: without an identity kiln goes on without credentials.
      if (isPublic) return undefined;
      throw new CredentialError(registry, `no AWS credentials for ${registry} (ecr login): ${NO_CREDENTIALS}`);
    }
    throw new CredentialError(registry, `${what} login for ${registry} failed: ${oneLine(err)}; check the AWS identity kiln found (AWS_ROLE_ARN and its web identity token, keys or profile) and that it may call ecr:GetAuthorizationToken`);
  }
  return fromToken(registry, data);
};

/** authorizationToken is base64("AWS:<password>"). */
function fromToken(registry: string, data: { authorizationToken?: string; expiresAt?: Date } | undefined): Credential {
  const decoded = data?.authorizationToken ? Buffer.from(data.authorizationToken, "base64").toString("utf8") : "";
  const i = decoded.indexOf(":");
  if (i <= 0) throw new CredentialError(registry, `ECR returned no usable authorization token for ${registry}`);
  return {
    kind: "basic", username: decoded.slice(0, i), password: decoded.slice(i + 1),
    ...(data?.expiresAt ? { expiresAt: data.expiresAt.getTime() } : {}),
  };
}

function oneLine(e: Error): string {
  return `${e.name && e.name !== "Error" ? `${e.name}: ` : ""}${e.message}`.replace(/\s+/g, " ").trim();
}
