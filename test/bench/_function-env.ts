/**
 * The environment a function needs to start in the coldstart benchmark: what its rendered ksvc would get, with
 * throwaway secrets. Functions read config from env only, so this is all a cold start needs.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";

const secret = () => randomBytes(24).toString("base64url");
const { privateKey } = generateKeyPairSync("ed25519");

export function benchEnvFor(name: string): Record<string, string> {
  const common: Record<string, string> = {
    K_SERVICE: name,
    K_SINK: "http://127.0.0.1:9/default/default",
    KNCLAW_MEMORY_URL: "http://127.0.0.1:9",
    KNCLAW_MEMORY_TOKEN: secret(),
    KNCLAW_MEMORY_TOKEN_SECRET: secret(),
    KNCLAW_MEMORY_BACKEND: "embedded",
    KNCLAW_INSTANCE: "assistant",
    KNCLAW_SIGNING_KEY: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    NODE_ENV: "production",
  };
  return common;
}
