// @azure/identity (Node), unchanged, driven by
// crates/entra-emulator/tests/it/azure_identity_node.rs.
//
// Usage: node azure_identity_flows.js FLOW '{"json": "arguments"}'
// The environment is what Azure gives code on a host: IDENTITY_ENDPOINT and
// IDENTITY_HEADER (App Service) for managed identity. The workload identity
// flow takes its tenant, client id, token file and authority host as
// arguments. The emulator's CA is trusted through NODE_EXTRA_CA_CERTS, set by
// the caller; the packages are found through NODE_PATH. Prints one JSON
// line: the outcome, or {"exception": ...}.
"use strict";

const {
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
} = require("@azure/identity");

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const flows = {
  async managed_identity(args) {
    const credential = args.client_id
      ? new ManagedIdentityCredential({ clientId: args.client_id })
      : new ManagedIdentityCredential();
    const first = await credential.getToken(args.scope);
    const second = await credential.getToken(args.scope);
    return {
      access_token: first.token,
      expires_on: first.expiresOnTimestamp,
      second_same: second.token === first.token,
    };
  },

  async workload_identity(args) {
    const credential = new WorkloadIdentityCredential({
      tenantId: args.tenant_id,
      clientId: args.client_id,
      tokenFilePath: args.token_file,
      authorityHost: args.authority_host,
      disableInstanceDiscovery: true,
    });
    const token = await credential.getToken(args.scope);
    return { access_token: token.token, expires_on: token.expiresOnTimestamp };
  },
};

async function main() {
  const [flow, json] = process.argv.slice(2);
  const args = JSON.parse(json);
  try {
    emit(await flows[flow](args));
  } catch (e) {
    emit({ exception: `${e.name}: ${e.message}` });
  }
}

main();
