"""azure-identity (Python), unchanged, driven by
crates/entra-emulator/tests/it/azure_identity_python.rs.

Usage: python azure_identity_flows.py FLOW '{"json": "arguments"}'

The environment is what Azure gives code on a host: IDENTITY_ENDPOINT and
IDENTITY_HEADER (App Service) for managed identity; the workload identity
flow takes its tenant, client id and token file as arguments (what
AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE hold on
Kubernetes) and an authority on the emulator. The emulator's CA is trusted
through REQUESTS_CA_BUNDLE, set by the caller. Prints one JSON line: the
outcome, or {"exception": ...}.
"""

import json
import sys

from azure.identity import ManagedIdentityCredential, WorkloadIdentityCredential


def emit(obj):
    print(json.dumps(obj), flush=True)


def managed_identity(args):
    kwargs = {}
    if args.get("client_id"):
        kwargs["client_id"] = args["client_id"]
    credential = ManagedIdentityCredential(**kwargs)
    first = credential.get_token(args["scope"])
    second = credential.get_token(args["scope"])
    return {
        "access_token": first.token,
        "expires_on": first.expires_on,
        "second_same": second.token == first.token,
    }


def workload_identity(args):
    credential = WorkloadIdentityCredential(
        tenant_id=args["tenant_id"],
        client_id=args["client_id"],
        token_file_path=args["token_file"],
        authority=args["authority"],
        disable_instance_discovery=True,
    )
    token = credential.get_token(args["scope"])
    return {"access_token": token.token, "expires_on": token.expires_on}


FLOWS = {
    "managed_identity": managed_identity,
    "workload_identity": workload_identity,
}


def main():
    flow, args = sys.argv[1], json.loads(sys.argv[2])
    try:
        emit(FLOWS[flow](args))
    except Exception as error:  # reported to the test, which fails with it
        emit({"exception": "%s: %s" % (type(error).__name__, error)})


if __name__ == "__main__":
    main()
