// A real OpenID Connect provider (node-oidc-provider, OpenID Certified) on loopback, for the
// browser tests and for `make run` with SANDBOX_SSO=true. Never for production.
//
//   node tests/oidc/provider.mjs --port 8200 --redirect-uri http://127.0.0.1:8000/accounts/oidc/sso/login/callback/
//
// Options (or the environment variables in brackets):
//   --port N                  [OIDC_TEST_PORT]     where it listens on 127.0.0.1 (0: any free port)
//   --client-id ID            [OIDC_CLIENT_ID]     the back office's client (default backoffice)
//   --client-secret SECRET    [OIDC_CLIENT_SECRET] its secret (default backoffice-test-secret)
//   --redirect-uri URI        (repeatable)         the back office's callback URL(s)
//   --backchannel-logout-uri URI                   where back-channel logout tokens are posted
//   --password PASSWORD       [OIDC_DEMO_PASSWORD] every demo person's password
//   --test-controls                                 enable the /_test/* endpoints below
//
// The people, their groups and passwords are the USERS below. The first line on stdout is
// `listening <issuer>`, which the starters wait for.
//
// Test controls (loopback, only with --test-controls):
//   PUT  /_test/users/<id>   {"groups": [...], "active": false}   change a person at the provider
//   POST /_test/tamper       {"set": {...}, "unset": [...], "foreign_key": true}
//        alters the ID token of the next token response: claims set or removed and the token
//        signed again with the provider's own key, or signed with a key it does not publish.
//        It is how a wrong audience, an expired token and a bad signature are provoked: the real
//        provider never sends them to a client it knows.
import http from 'node:http';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';
import * as jose from 'jose';

const { values: options } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.OIDC_TEST_PORT || '0' },
    'client-id': { type: 'string', default: process.env.OIDC_CLIENT_ID || 'backoffice' },
    'client-secret': {
      type: 'string',
      default: process.env.OIDC_CLIENT_SECRET || 'backoffice-test-secret',
    },
    'redirect-uri': { type: 'string', multiple: true, default: [] },
    'backchannel-logout-uri': { type: 'string' },
    password: { type: 'string', default: process.env.OIDC_DEMO_PASSWORD || 'demo-password' },
    'test-controls': { type: 'boolean', default: false },
  },
});

// One person per role, as the back office's OIDC_ROLE_MAP for the sandbox expects.
const USERS = {
  ana: { name: 'Ana Agent', given_name: 'Ana', family_name: 'Agent', groups: ['cs-agents'] },
  sam: {
    name: 'Sam Supervisor', given_name: 'Sam', family_name: 'Supervisor',
    groups: ['cs-agents', 'cs-supervisors'],
  },
  alex: { name: 'Alex Admin', given_name: 'Alex', family_name: 'Admin', groups: ['cs-admins'] },
  nobody: { name: 'Noor Body', given_name: 'Noor', family_name: 'Body', groups: ['marketing'] },
};
for (const [id, user] of Object.entries(USERS)) {
  Object.assign(user, { id, active: true, email: `${id}@example.com`, password: options.password });
}

const signingKey = await jose.generateKeyPair('RS256', { extractable: true });
const privateJwk = { ...(await jose.exportJWK(signingKey.privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
// Not published: what an attacker would sign with.
const foreignKey = (await jose.generateKeyPair('RS256', { extractable: true })).privateKey;

let tamper = null; // the alteration for the next token response, if any

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(options.port), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: options['client-id'],
    client_secret: options['client-secret'],
    redirect_uris: options['redirect-uri'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
    post_logout_redirect_uris: [],
    ...(options['backchannel-logout-uri'] ? {
      backchannel_logout_uri: options['backchannel-logout-uri'],
      backchannel_logout_session_required: true,
    } : {}),
  }],
  jwks: { keys: [privateJwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: {
    // acr and amr say how the person signed in; the back office audits them.
    openid: ['sub', 'acr', 'amr'],
    // The groups travel with the profile, as Entra ID and Keycloak put them in by default.
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'groups'],
    email: ['email', 'email_verified'],
  },
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  // Refresh tokens let the back office re-check a session; no consent screen asks for them.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  // A first-party client: the person is not asked to consent.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email offline_access');
    await grant.save();
    return grant;
  },
  // A person removed or disabled here no longer exists for the provider: their refresh token
  // is refused (invalid_grant), which ends their back-office session at its next re-check.
  findAccount: async (ctx, id) => {
    const user = USERS[id];
    if (!user || !user.active) return undefined;
    return {
      accountId: id,
      claims: async () => ({
        sub: id, name: user.name, given_name: user.given_name, family_name: user.family_name,
        preferred_username: id, email: user.email, email_verified: true, groups: user.groups,
      }),
    };
  },
  // Its outgoing calls (back-channel logout tokens) refuse loopback addresses, against SSRF; the
  // back office it serves listens on loopback here, so this test provider lets them through.
  fetch: (url, init) => {
    const { dispatcher, ...rest } = init;
    return fetch(url, rest);
  },
  ttl: { AccessToken: 600, IdToken: 600, RefreshToken: 86400, Interaction: 600, Session: 86400 },
});

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, title, body, status = 200) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body><main><h1>Test identity provider</h1>${body}</main></body></html>`);
}

function loginForm(res, uid, error = '') {
  page(res, 'Sign in', `
<p>Sign in to continue to the CDP back office. Demo people: ${Object.keys(USERS).map(escape).join(', ')}.</p>
${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
  <p><label for="login">Username</label> <input id="login" name="login" autocomplete="username" required></p>
  <p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required></p>
  <p><button type="submit">Sign in at the provider</button></p>
</form>`, error ? 401 : 200);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt } = details;
  if (req.method === 'GET') {
    if (prompt.name === 'login') return loginForm(res, uid);
    // Consent is never asked (loadExistingGrant); anything else ends the interaction.
    return provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
  }
  const form = new URLSearchParams(await readBody(req));
  const user = USERS[form.get('login')];
  const password = Buffer.from(form.get('password') || '');
  const expected = Buffer.from(user ? user.password : '');
  const good = user && user.active && password.length === expected.length
    && crypto.timingSafeEqual(password, expected);
  if (!good) return loginForm(res, uid, 'Wrong username or password.');
  return provider.interactionFinished(req, res, {
    login: { accountId: user.id, amr: ['pwd'], acr: 'urn:backoffice:test:password' },
  }, { mergeWithLastSubmission: false });
}

async function alterIdToken(idToken, change) {
  const claims = jose.decodeJwt(idToken);
  Object.assign(claims, change.set || {});
  for (const name of change.unset || []) delete claims[name];
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: privateJwk.kid, typ: 'JWT' })
    .sign(change.foreign_key ? foreignKey : signingKey.privateKey);
}

// Alter the ID token in the provider's own token response before it leaves (see /_test/tamper).
function tamperTokenResponse(res, change) {
  const end = res.end.bind(res);
  res.end = (body, ...rest) => {
    let answer;
    try { answer = JSON.parse(String(body)); } catch { return end(body, ...rest); }
    if (!answer.id_token) return end(body, ...rest);
    alterIdToken(answer.id_token, change).then((altered) => {
      answer.id_token = altered;
      const text = JSON.stringify(answer);
      res.setHeader('Content-Length', Buffer.byteLength(text));
      end(text);
    });
    return res;
  };
}

async function testControl(req, res, url) {
  const json = (status, data) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(data));
  };
  const body = req.method === 'GET' ? {} : JSON.parse((await readBody(req)) || '{}');
  const userMatch = url.pathname.match(/^\/_test\/users\/([^/]+)$/);
  if (userMatch && req.method === 'PUT') {
    const user = USERS[userMatch[1]];
    if (!user) return json(404, { error: 'no such user' });
    if (Array.isArray(body.groups)) user.groups = body.groups.map(String);
    if (typeof body.active === 'boolean') user.active = body.active;
    return json(200, { id: user.id, groups: user.groups, active: user.active });
  }
  if (url.pathname === '/_test/tamper' && req.method === 'POST') {
    tamper = body;
    return json(200, { next_id_token: body });
  }
  return json(404, { error: 'unknown test control' });
}

const oidc = provider.callback();
server.on('request', async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (url.pathname.startsWith('/interaction/')) return await interaction(req, res);
    if (url.pathname.startsWith('/_test/') && options['test-controls']) {
      return await testControl(req, res, url);
    }
    if (url.pathname === '/token' && tamper) {
      tamperTokenResponse(res, tamper);
      tamper = null;
    }
    return oidc(req, res);
  } catch (error) {
    console.error(error);
    if (!res.headersSent) page(res, 'Error', `<p role="alert">${escape(error.message)}</p>`, 500);
    return undefined;
  }
});
provider.on('server_error', (ctx, error) => console.error(error));
provider.on('backchannel.error', (client, error) => console.error('back-channel logout failed:', error.message, error.cause?.message ?? ''));

console.log(`listening ${issuer}`);
