// A real OpenID Connect provider for Baton's single sign-on tests: panva's certified
// oidc-provider (pinned in package.json), configured with one confidential client and three
// fixed accounts, listening on loopback. Its development login pages (devInteractions) let a
// browser, or a test posting their forms as a browser would, sign in by typing a login.
//
// Usage: node server.js [PORT]   (0 or nothing: a free port)
// Environment:
//   OIDC_CLIENT_ID, OIDC_CLIENT_SECRET  the client Baton signs in as (required)
//   OIDC_REDIRECT_URIS                  its callback URLs, separated by spaces (required)
// Prints one line once it listens: "oidc-provider ready <issuer>" (the fixture waits for it).

import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

// Each login the sign-in form accepts; any password does (devInteractions checks none).
const ACCOUNTS = {
  alice: {
    email: 'alice@example.test',
    email_verified: true,
    name: 'Alice Operator',
    preferred_username: 'alice',
    groups: ['baton-operators'],
  },
  ada: {
    email: 'ada@example.test',
    email_verified: true,
    name: 'Ada Admin',
    preferred_username: 'ada',
    groups: ['baton-operators', 'baton-admins'],
  },
  eve: {
    email: 'eve@example.test',
    email_verified: true,
    name: 'Eve Outsider',
    preferred_username: 'eve',
    groups: [],
  },
};

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`oidc-provider: set ${name}`);
    process.exit(2);
  }
  return value;
}

// A fresh signing key per run: nothing of the tests' tokens outlives the provider.
function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'baton-test', alg: 'RS256', use: 'sig' };
}

function configuration() {
  return {
    clients: [{
      client_id: required('OIDC_CLIENT_ID'),
      client_secret: required('OIDC_CLIENT_SECRET'),
      redirect_uris: required('OIDC_REDIRECT_URIS').split(' ').filter(Boolean),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    // Which claims each scope releases; `groups` is the one Baton maps to a role.
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    async findAccount(ctx, id) {
      const account = ACCOUNTS[id];
      if (account === undefined) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...account }) };
    },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: ['baton-test-cookie-key'] },
    jwks: { keys: [signingKey()] },
  };
}

const server = createServer();
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration());
  server.on('request', provider.callback());
  console.log(`oidc-provider ready ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
