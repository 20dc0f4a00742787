// panva's oidc-provider as the reference point of `cargo xtask bench emulator`:
// one confidential client that authenticates with its secret in the form body
// (client_secret_post) and gets, through the client-credentials grant and a
// resource indicator, an RS256 JWT access token for one resource.
//
//   NODE_ENV=production node server.mjs <port>     (or PORT=<port>)
//
// Prints `oidc-provider listening on http://127.0.0.1:<port>` once it accepts
// connections. Everything is in memory (the default adapter); the signing key
// is a fresh RSA-2048 key, like the emulator's.
//
// The bench's request, answered 200 with a JWT `access_token`:
//   POST /token
//   grant_type=client_credentials&client_id=bench-daemon&client_secret=bench-daemon-secret
//   &resource=api://heroes&scope=Heroes.Read

import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const host = '127.0.0.1';

const CLIENT_ID = 'bench-daemon';
const CLIENT_SECRET = 'bench-daemon-secret';
const RESOURCE = 'api://heroes';
const SCOPE = 'Heroes.Read';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'bench' };

const resourceServer = {
  scope: SCOPE,
  audience: RESOURCE,
  accessTokenTTL: 60 * 60,
  accessTokenFormat: 'jwt',
  jwt: { sign: { alg: 'RS256' } },
};

const configuration = {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
  ],
  jwks: { keys: [signingKey] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // The client-credentials grant names its resource; nothing to default.
      defaultResource: (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: () => false,
      getResourceServerInfo: (_ctx, resourceIndicator, _client) => {
        if (resourceIndicator === RESOURCE) return resourceServer;
        throw new Provider.errors.InvalidTarget();
      },
    },
  },
  ttl: {
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 60 * 60,
  },
  // No cookies are used by this grant; fixed keys keep startup quiet.
  cookies: { keys: ['bench-cookie-key'] },
};

const provider = new Provider(`http://${host}:${port}`, configuration);
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const server = provider.listen(port, host, () => {
  const { port: bound } = server.address();
  console.log(`oidc-provider listening on http://${host}:${bound}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
