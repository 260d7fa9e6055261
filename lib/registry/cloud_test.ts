import { describe, expect, test } from "bun:test";
import { cloudProviderFor, ecrIsFips, ecrRegionOf } from "./cloud.ts";

describe("cloudProviderFor", () => {
  test.each([
    ["123456789012.dkr.ecr.us-east-1.amazonaws.com", "ecr"],
    ["123456789012.dkr.ecr.eu-west-1.amazonaws.com:443", "ecr"],
    ["123456789012.dkr.ecr.us-east-1.amazonaws.com:5000", "ecr"],
    ["123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "ecr"],
    ["123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "ecr"],
    ["123456789012.dkr-ecr.us-east-1.on.aws", "ecr"],
    ["123456789012.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn", "ecr"],
    ["123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", "ecr"],
    ["123456789012.DKR.ECR.US-EAST-1.AMAZONAWS.COM", "ecr"],
    ["public.ecr.aws", "ecr-public"],
    ["gcr.io", "gcr"],
    ["eu.gcr.io", "gcr"],
    ["us.gcr.io", "gcr"],
    ["asia.gcr.io", "gcr"],
    ["europe-west1-docker.pkg.dev", "gcr"],
    ["us-docker.pkg.dev", "gcr"],
    ["myregistry.azurecr.io", "acr"],
    ["myregistry.azurecr.io:5443", "acr"],
    ["myregistry.azurecr.cn", "acr"],
    ["myregistry.azurecr.us", "acr"],
  ])("%s -> %s", (host, want) => {
    expect(cloudProviderFor(host)).toBe(want as never);
  });

  test.each([
    "index.docker.io",
    "ghcr.io",
    "quay.io",
    "localhost:5000",
    "127.0.0.1:5000",
    // not 12 digits / wrong shape
    "12345.dkr.ecr.us-east-1.amazonaws.com",
    "123456789012.ecr.us-east-1.amazonaws.com",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
    "evil-123456789012.dkr.ecr.us-east-1.amazonaws.com",
    "ecr.aws",
    "public.ecr.aws.example.com",
    "notgcr.io",
    "gcr.io.example.com",
    "docker.pkg.dev",
    "us-docker.pkg.dev.example.com",
    "azurecr.io",
    "my.registry.azurecr.io",
    "myregistry.azurecr.io.example.com",
  ])("%s -> none", (host) => {
    expect(cloudProviderFor(host)).toBeUndefined();
  });

  test("the ECR region and FIPS-ness come from the host", () => {
    expect(ecrRegionOf("123456789012.dkr.ecr.eu-central-1.amazonaws.com:5000")).toBe("eu-central-1");
    expect(ecrRegionOf("123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn")).toBe("cn-northwest-1");
    expect(ecrIsFips("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com")).toBe(true);
    expect(ecrIsFips("123456789012.dkr.ecr.us-east-1.amazonaws.com")).toBe(false);
  });
});
