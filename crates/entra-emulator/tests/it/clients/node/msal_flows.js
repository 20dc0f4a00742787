// MSAL Node driven by crates/entra-emulator/tests/msal_node.rs.
//
// Usage: node msal_flows.js FLOW '{"json": "arguments"}'
// Prints one JSON line on stdout: the outcome. The emulator's CA is trusted
// through NODE_EXTRA_CA_CERTS, set by the caller; @azure/msal-node is found
// through NODE_PATH (installed by .ci/install-test-clients outside the tree).
"use strict";

const msal = require("@azure/msal-node");
const https = require("node:https");
const { URL } = require("node:url");

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// MSAL's own log, kept to explain a failure.
const msalLog = [];

function confidential(args) {
  const host = new URL(args.authority).host; // host:port
  return new msal.ConfidentialClientApplication({
    auth: {
      clientId: args.client_id,
      authority: args.authority,
      clientSecret: args.client_secret,
      // A host MSAL does not know: trust it without asking
      // login.microsoftonline.com for instance discovery.
      knownAuthorities: [host],
    },
    system: {
      loggerOptions: {
        logLevel: msal.LogLevel.Verbose,
        piiLoggingEnabled: true,
        loggerCallback: (_level, message) => {
          msalLog.push(message);
          if (process.env.MSAL_DEBUG) process.stderr.write(message + "\n");
        },
      },
    },
  });
}

// GET without following redirects (trusting NODE_EXTRA_CA_CERTS).
function get(url) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { timeout: 20000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

async function followAuthorize(authUri, redirectUri) {
  let url = authUri;
  for (let i = 0; i < 10; i++) {
    const res = await get(url);
    const location = res.headers.location;
    if (![301, 302, 303, 307, 308].includes(res.status) || !location) {
      throw new Error(`authorize answered ${res.status} without a redirect: ${res.body.slice(0, 2000)}`);
    }
    const next = new URL(location, url).toString();
    if (next.startsWith(redirectUri)) {
      return next;
    }
    url = next;
  }
  throw new Error("too many redirects from authorize");
}

function summary(result) {
  if (!result) return result;
  return {
    accessToken: result.accessToken,
    idToken: result.idToken,
    idTokenClaims: result.idTokenClaims,
    scopes: result.scopes,
    tenantId: result.tenantId,
    uniqueId: result.uniqueId,
    account: result.account,
    tokenType: result.tokenType,
    fromCache: result.fromCache,
    expiresOn: result.expiresOn,
  };
}

function failure(e) {
  return {
    error: {
      name: e && e.name,
      errorCode: e && e.errorCode,
      errorMessage: e && (e.errorMessage || e.message),
      subError: e && e.subError,
      stack: e && e.stack,
    },
    msalLog: msalLog.slice(-40),
  };
}

const flows = {
  async client_credentials(args) {
    const app = confidential(args);
    const first = await app.acquireTokenByClientCredential({ scopes: args.scopes });
    const second = await app.acquireTokenByClientCredential({ scopes: args.scopes });
    return { first: summary(first), secondFromCache: second.fromCache };
  },

  async auth_code(args) {
    const app = confidential(args);
    const crypto = new msal.CryptoProvider();
    const { verifier, challenge } = await crypto.generatePkceCodes();
    const state = crypto.createNewGuid();
    const authUri = await app.getAuthCodeUrl({
      scopes: args.scopes,
      redirectUri: args.redirect_uri,
      loginHint: args.login_hint,
      codeChallenge: challenge,
      codeChallengeMethod: "S256",
      state,
    });
    const location = await followAuthorize(authUri, args.redirect_uri);
    const params = new URL(location).searchParams;
    if (params.get("error")) {
      return { authUri, redirect: location, authorizeError: Object.fromEntries(params) };
    }
    const result = await app.acquireTokenByCode({
      code: params.get("code"),
      scopes: args.scopes,
      redirectUri: args.redirect_uri,
      codeVerifier: verifier,
      state: params.get("state"),
    });
    const accounts = await app.getTokenCache().getAllAccounts();
    let silent = null;
    if (accounts.length > 0) {
      silent = await app.acquireTokenSilent({
        account: accounts[0],
        scopes: args.scopes,
        forceRefresh: true,
      });
    }
    return {
      authUri,
      redirect: location,
      stateEchoed: params.get("state") === state,
      result: summary(result),
      accounts,
      refreshed: summary(silent),
    };
  },
};

async function main() {
  const [flow, json] = process.argv.slice(2);
  const args = JSON.parse(json);
  process.stderr.write(`msal-node ${msal.version || ""}, flow ${flow}\n`);
  try {
    emit(await flows[flow](args));
  } catch (e) {
    emit(failure(e));
  }
}

main();
