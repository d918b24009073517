// A real OpenID provider for the end-to-end tests (and the docs' JWT journey): panva's
// oidc-provider, listening on loopback, on port $PORT or a free one. It prints `ready ISSUER`
// once it serves. One confidential client (`app`, secret `app-secret`) may use
// client_credentials; access tokens are RS256 JWTs for two resources with different audiences,
// so tests can present a token meant for another API. With $REDIRECT_URI set, a second client
// (`portcullis`, secret `portcullis-secret`) signs people in with the authorization code flow
// and returns there: the development login takes any name, and the account `NAME` has the
// e-mail address `NAME@corp.example` and the name `Corp NAME`.
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signing = { ...privateKey.export({ format: 'jwk' }), kid: 'node-rsa-1', use: 'sig', alg: 'RS256' };
const resources = {
  'https://pets.example': { scope: 'pets/read pets/write', audience: 'pets-api', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } },
  'https://other.example': { scope: 'pets/read', audience: 'other-api', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } },
};

const server = http.createServer();
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      { client_id: 'app', client_secret: 'app-secret', grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
      ...(process.env.REDIRECT_URI ? [{
        client_id: 'portcullis', client_secret: 'portcullis-secret', grant_types: ['authorization_code'],
        response_types: ['code'], redirect_uris: [process.env.REDIRECT_URI], token_endpoint_auth_method: 'client_secret_basic',
      }] : []),
    ],
    findAccount: (ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: id, email: `${id}@corp.example`, email_verified: true, name: `Corp ${id}` }),
    }),
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    conformIdTokenClaims: false,
    jwks: { keys: [signing] },
    features: {
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'https://pets.example',
        getResourceServerInfo: (ctx, resource) => {
          const info = resources[resource];
          if (!info) throw new errors.InvalidTarget();
          return info;
        },
      },
    },
  });
  server.on('request', provider.callback());
  console.log(`ready ${issuer}`);
});
