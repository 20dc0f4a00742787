// An outside OpenID Connect provider for entra-cli's generic OIDC tests:
// panva's oidc-provider on a free loopback port, with one confidential
// client (client credentials) and one resource server whose access tokens
// are JWTs (RFC 9068: scopes in `scope`, audience the resource indicator).
//
//   node provider.mjs NODE_MODULES_DIR
//
// Prints one JSON line, {"issuer", "client_id", "client_secret", "resource"},
// then serves until killed. The signing key is generated at start.
import { createServer } from "node:http";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import path from "node:path";

const modules = process.argv[2];
if (!modules) {
  console.error("usage: node provider.mjs NODE_MODULES_DIR");
  process.exit(2);
}
const require = createRequire(path.join(modules, "noop.js"));
const { default: Provider } = await import(pathToFileURL(require.resolve("oidc-provider")).href);

const resource = "https://heroes.example.test";
const client_id = "heroes-cli";
const client_secret = randomBytes(24).toString("base64url");
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: "fixture-rs256", use: "sig", alg: "RS256" };

const server = createServer();
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id,
        client_secret,
        grant_types: ["client_credentials"],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: "client_secret_post",
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(16).toString("hex")] },
    scopes: ["openid", "Heroes.Read", "Heroes.Write"],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator) => {
          if (indicator !== resource) {
            throw new Error(`unknown resource ${indicator}`);
          }
          return {
            scope: "Heroes.Read Heroes.Write",
            audience: resource,
            accessTokenTTL: 600,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "RS256" } },
          };
        },
      },
    },
  });
  server.on("request", provider.callback());
  process.stdout.write(JSON.stringify({ issuer, client_id, client_secret, resource }) + "\n");
});
